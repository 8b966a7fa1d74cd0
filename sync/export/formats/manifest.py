"""``manifest.parquet`` and ``manifest.csv``: one row per exported image, and
``exclusions.csv``: one row per image left out, with the reason.

Single-label data gets a ``label`` column; multi-label and detection data a ``labels`` list
(in the CSV joined with "|"). ``flags`` are the findings still open on an exported image
(ones the policy does not exclude, such as ``blurry``), so a consumer can filter further.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

COLUMNS = [
    "path",
    "shard",
    "sha256",
    "label",
    "labels",
    "split",
    "width",
    "height",
    "source",
    "licence",
    "collected_at",
    "flags",
    "task_id",
    "group",
    "split_source",
    "n_bytes",
]


def manifest_frame(items: pd.DataFrame, *, single_label: bool) -> pd.DataFrame:
    out = items.copy()
    if single_label:
        out["label"] = [labels[0] for labels in out["labels"]]
    columns = [
        c for c in COLUMNS if c in out.columns and c != ("labels" if single_label else "label")
    ]
    out = out[columns].sort_values(["split", "sha256"], kind="stable").reset_index(drop=True)
    for column in ("width", "height"):
        out[column] = pd.to_numeric(out[column], errors="coerce").astype("Int64")
    for column in ("source", "licence", "collected_at", "path", "shard"):
        out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out


def write_manifest(items: pd.DataFrame, root: Path, *, single_label: bool) -> pd.DataFrame:
    frame = manifest_frame(items, single_label=single_label)
    frame.to_parquet(root / "manifest.parquet", index=False)
    flat(frame).to_csv(root / "manifest.csv", index=False)
    return frame


def write_exclusions(excluded: pd.DataFrame, root: Path) -> None:
    flat(excluded.sort_values(["reason", "task_id"], kind="stable")).to_csv(
        root / "exclusions.csv", index=False
    )


def flat(frame: pd.DataFrame) -> pd.DataFrame:
    """List columns joined with "|" for CSV readers."""
    out = frame.copy()
    for column in ("labels", "flags"):
        if column in out.columns:
            out[column] = ["|".join(v) for v in out[column]]
    return out
