"""What goes into an export and what stays out, with the reason written down for each.

Excluded, in this order (the first reason that applies is recorded):
``unreadable`` (no content hash, or an ``unreadable`` finding), any flag in
``settings.export.exclude_flags`` (by default open ``label_issue`` and ``exact_duplicate``
findings), ``unlabelled`` (nothing to learn from), and copies of the same bytes: one keeper
stays (the lowest task id), the others are ``exact_duplicate``; copies whose labels disagree
all stay out as ``duplicate_label_conflict``, since no rule can say which label is right.
Bytes that cannot be read, or that changed since they were hashed, are excluded later, while
the images are written (``sync.export.images``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

EXCLUSION_COLUMNS = ["task_id", "image", "sha256", "labels", "reason", "detail"]


@dataclass
class Selection:
    kept: pd.DataFrame  # rows of the records frame that go in
    excluded: pd.DataFrame  # EXCLUSION_COLUMNS


def select(frame: pd.DataFrame, *, exclude_flags: Iterable[str]) -> Selection:
    """Apply the export policy to a normalised records frame (see ``records.normalise``)."""
    blocked = set(exclude_flags)
    reasons = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    details = pd.Series([""] * len(frame), index=frame.index, dtype=object)
    for i, row in zip(frame.index, frame.to_dict("records"), strict=True):
        reasons[i], details[i] = _row_reason(row, blocked)
    _duplicates(frame, reasons, details)
    out = reasons.notna()
    excluded = frame.loc[out, ["task_id", "image", "sha256", "labels"]].copy()
    excluded["reason"] = reasons[out]
    excluded["detail"] = details[out]
    return Selection(kept=frame[~out].copy(), excluded=excluded[EXCLUSION_COLUMNS])


def _row_reason(row: dict, blocked: set[str]) -> tuple[str | None, str]:
    flags = list(row["flags"])
    if row["sha256"] is None or "unreadable" in flags:
        return "unreadable", "no readable content"
    hit = [f for f in flags if f in blocked and f != "exact_duplicate"]
    if hit:
        return hit[0], f"open finding {hit[0]!r} (settings.export.exclude_flags)"
    has_boxes = len(row.get("boxes") or []) > 0
    if not row["labels"] and not has_boxes:
        return "unlabelled", "no human label"
    return None, ""


def _duplicates(frame: pd.DataFrame, reasons: pd.Series, details: pd.Series) -> None:
    """Same bytes in several tasks: keep the lowest task id unless their labels disagree."""
    live = frame[reasons.isna()]
    live = live[live["sha256"].duplicated(keep=False)]  # iterate copies only
    for _sha, copies in live.groupby("sha256", sort=False):
        ordered = copies.sort_values("task_id")
        label_sets = {tuple(sorted(labels)) for labels in ordered["labels"]}
        ids = ", ".join(str(t) for t in ordered["task_id"])
        if len(label_sets) > 1:
            reasons[ordered.index] = "duplicate_label_conflict"
            details[ordered.index] = f"same bytes, different labels in tasks {ids}"
            continue
        keeper = ordered.iloc[0]["task_id"]
        reasons[ordered.index[1:]] = "exact_duplicate"
        details[ordered.index[1:]] = f"same bytes as task {keeper}"
