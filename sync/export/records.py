"""The records frame an export starts from (the project-frame contract), checked and tidied.

One row per task: ``task_id, image, sha256, labels (list), split, flags (list), width,
height, source, licence, collected_at, updated_at`` and optionally ``boxes`` (detection:
Label Studio percent units) and ``group`` (a duplicate-cluster or other grouping key).
Lists may arrive as lists, tuples, numpy arrays, "|"-joined strings or None; everything
downstream sees plain lists of strings.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from winnow.errors import ConfigError

Kind = Literal["classification", "multi_label", "detection"]
REQUIRED = ("task_id", "image", "sha256", "labels")
OPTIONAL = {
    "split": None,
    "flags": None,
    "width": np.nan,
    "height": np.nan,
    "source": None,
    "licence": None,
    "collected_at": None,
    "updated_at": None,
    "group": None,
}


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every contract column present and list columns as lists of strings."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ConfigError(f"records frame lacks columns {missing}; it has {list(frame.columns)}")
    out = frame.reset_index(drop=True).copy()
    for column, default in OPTIONAL.items():
        if column not in out.columns:
            out[column] = default
    out["labels"] = [as_list(v) for v in out["labels"]]
    out["flags"] = [as_list(v) for v in out["flags"]]
    if "boxes" in out.columns:
        out["boxes"] = [list(v) if _present(v) else [] for v in out["boxes"]]
    out["split"] = out["split"].astype(object).where(out["split"].notna(), None)
    out["sha256"] = out["sha256"].astype(object).where(out["sha256"].notna(), None)
    return out


def as_list(value: object) -> list[str]:
    if not _present(value):
        return []
    if isinstance(value, str):
        return [part for part in value.split("|") if part]
    return [str(v) for v in value]  # type: ignore[union-attr]


def _present(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and np.isnan(value):
        return False
    return not (isinstance(value, str) and value == "")


def detect_kind(frame: pd.DataFrame) -> Kind:
    """Detection when any row has boxes, multi-label when any row has two labels."""
    if "boxes" in frame.columns and any(len(b) for b in frame["boxes"]):
        return "detection"
    if any(len(labels) > 1 for labels in frame["labels"]):
        return "multi_label"
    return "classification"
