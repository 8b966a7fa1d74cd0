"""When the sync rescores label issues on its last fit: the probe file round-trips, a broken
one is refitted over, and the policy refits once the content or too many labels changed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.label_probe import LabelProbe
from sync.review.job import LabelRefit, audit_work_line
from sync.review.label_refit import load_probe, probe_path, reusable_probe, save_probe

KEYS = tuple(f"task:{i}" for i in range(20))
LABELS = tuple("cat" if i % 2 else "dog" for i in range(20))


def _probe(recall: np.ndarray | None = np.array([0.0, 0.5, 0.75])) -> LabelProbe:
    probs = np.random.default_rng(0).dirichlet([1.0, 1.0], len(KEYS))
    return LabelProbe(KEYS, ("cat", "dog"), probs, recall, 2, 3, LABELS)


def _table(labels: list[str | None], errors: list[str | None] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {"uri": list(KEYS), "label": labels, "error_kind": errors or [None] * len(KEYS)}
    )


def test_probe_round_trips_through_its_file(tmp_path: Path) -> None:
    path = probe_path(tmp_path, 7)
    for probe in (_probe(), _probe(recall=None)):
        save_probe(path, probe, "content-key")
        got, basis = load_probe(path)
        assert basis == "content-key" and got.keys == KEYS and got.labels == LABELS
        assert got.names == ("cat", "dog") and (got.plants, got.seeds) == (2, 3)
        assert np.array_equal(got.probs, probe.probs)
        assert (got.recall is None) == (probe.recall is None)
        if probe.recall is not None:
            assert got.recall.tolist() == probe.recall.tolist()
    assert not list(path.parent.glob("*.tmp*"))  # written through a temporary, then renamed


def test_a_missing_or_broken_probe_file_means_a_refit(tmp_path: Path) -> None:
    path = probe_path(tmp_path, 1)
    assert load_probe(path) is None
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 not a zip archive")
    assert load_probe(path) is None
    np.savez(path, keys=np.array(["a"]))  # a file of another shape
    assert load_probe(path) is None


def test_policy_rescores_only_on_the_same_content_and_few_edits() -> None:
    stored = (_probe(), "content-key")
    same = _table(list(LABELS))
    probe, changed = reusable_probe(stored, basis="content-key", table=same, share=0.05)
    assert probe is stored[0] and changed == 0
    one = list(LABELS)
    one[3] = "dog" if one[3] == "cat" else "cat"  # 1 of 20 = the 0.05 share: still rescored
    assert reusable_probe(stored, basis="content-key", table=_table(one), share=0.05)[0]
    two = list(one)
    two[4] = "dog" if two[4] == "cat" else "cat"
    probe, changed = reusable_probe(stored, basis="content-key", table=_table(two), share=0.05)
    assert probe is None and changed == 2  # past the share: refit
    probe, _ = reusable_probe(stored, basis="other", table=same, share=1.0)
    assert probe is None  # new content, split, settings or model: refit
    unlabelled = list(LABELS)
    unlabelled[0] = None  # a label removed counts as a change
    assert reusable_probe(stored, basis="content-key", table=_table(unlabelled), share=0.0) == (
        None,
        1,
    )
    assert reusable_probe(None, basis="content-key", table=same, share=1.0) == (None, -1)


def test_summary_says_the_labels_were_rescored() -> None:
    line = audit_work_line(
        None, (100, 0.4), embedded=True, refit=LabelRefit(rescored=True, changed=150)
    )
    assert line == (
        "label issues rescored on the last fit (100 changed labels, 150 since the fit, 0.4 s); "
        "duplicates, quality, outliers, PII reused"
    )
