"""When a sync rescores label issues on the last fit instead of refitting them.

A refit after a few label edits costs ``1 + audit.label_estimate_seeds`` cross-validated
fits (about 10 s at 10,000 tasks) and moves every task's out-of-sample probabilities a
little, so tasks near the cut change queue although nobody touched them: on 10,000 real
Fashion-MNIST tasks, 100 edits gave 310 task writes. An edited task's own probabilities
never saw its label, so they stay valid; the sync keeps the last fit's probabilities and
planted-flip recall (:class:`analysis.label_probe.LabelProbe`) and rescores on them while

- the content part is the one the fit stood on (same tasks, images, splits, settings and
  embedding model: its fingerprint is stored beside the probe), and
- at most ``sync.label_refit_share`` of the fitted labels changed since the fit.

Past that share, or when anything else changed, the next sync refits and stores a new probe.
The probe is one ``.npz`` per project under ``data_dir/label-probes``, written atomically
before the part that used it is stored, so a sync killed in between rescores identically.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.label_probe import LabelProbe


def probe_path(data_dir: Path, project: int) -> Path:
    return data_dir / "label-probes" / f"project-{project}.npz"


def save_probe(path: Path, probe: LabelProbe, basis: str) -> None:
    """Write ``probe`` with the content fingerprint it was fitted under, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    recall = np.zeros(0) if probe.recall is None else np.asarray(probe.recall, dtype=float)
    np.savez(
        tmp,
        keys=np.array(probe.keys, dtype=str),
        names=np.array(probe.names, dtype=str),
        probs=np.asarray(probe.probs, dtype=np.float64),
        recall=recall,
        has_recall=np.array(probe.recall is not None),
        counts=np.array([probe.plants, probe.seeds], dtype=np.int64),
        labels=np.array(probe.labels, dtype=str),
        basis=np.array(basis, dtype=str),
    )
    os.replace(tmp, path)


def load_probe(path: Path) -> tuple[LabelProbe, str] | None:
    """The stored probe and its content fingerprint; None when absent or unreadable (a refit
    replaces it)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            probe = LabelProbe(
                keys=tuple(f["keys"].tolist()),
                names=tuple(f["names"].tolist()),
                probs=f["probs"],
                recall=f["recall"] if bool(f["has_recall"]) else None,
                plants=int(f["counts"][0]),
                seeds=int(f["counts"][1]),
                labels=tuple(f["labels"].tolist()),
            )
            return probe, str(f["basis"])
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None


def reusable_probe(
    stored: tuple[LabelProbe, str] | None, *, basis: str, table: pd.DataFrame, share: float
) -> tuple[LabelProbe | None, int]:
    """The stored probe when the sync may rescore on it (see the module docstring), else
    None; with how many labelled tasks' labels changed since its fit (-1 without one)."""
    if stored is None:
        return None, -1
    probe, fitted_under = stored
    labelled = table[table["label"].notna() & table["error_kind"].isna()]
    current = dict(zip(labelled["uri"].astype(str), labelled["label"].astype(str), strict=True))
    n_changed = probe.changed(current) + len(set(probe.keys) - current.keys())
    ok = fitted_under == basis and n_changed <= share * len(probe.keys)
    return (probe if ok else None), n_changed
