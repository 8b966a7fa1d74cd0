"""The export policy: what stays out, and the reason recorded for it."""

from __future__ import annotations

import pandas as pd

from sync.export.policy import select
from sync.export.records import normalise

BLOCKED = ["unreadable", "label_issue", "exact_duplicate"]


def _frame(rows: list[dict]) -> pd.DataFrame:
    base = {"image": "x.jpg", "flags": [], "split": None}
    return normalise(pd.DataFrame([{**base, **row} for row in rows]))


def test_each_exclusion_reason() -> None:
    frame = _frame(
        [
            {"task_id": 1, "sha256": "a", "labels": ["cat"]},
            {"task_id": 2, "sha256": None, "labels": ["cat"]},
            {"task_id": 3, "sha256": "c", "labels": ["cat"], "flags": ["label_issue"]},
            {"task_id": 4, "sha256": "d", "labels": []},
            {"task_id": 5, "sha256": "e", "labels": ["dog"], "flags": ["blurry"]},
            {"task_id": 6, "sha256": "f", "labels": ["dog"], "flags": "unreadable"},
        ]
    )
    chosen = select(frame, exclude_flags=BLOCKED)
    assert chosen.kept["task_id"].tolist() == [1, 5]
    reasons = dict(zip(chosen.excluded["task_id"], chosen.excluded["reason"], strict=True))
    assert reasons == {2: "unreadable", 3: "label_issue", 4: "unlabelled", 6: "unreadable"}


def test_exact_duplicates_keep_one_and_conflicts_keep_none() -> None:
    frame = _frame(
        [
            {"task_id": 9, "sha256": "same", "labels": ["cat"]},
            {"task_id": 4, "sha256": "same", "labels": ["cat"], "flags": ["exact_duplicate"]},
            {"task_id": 7, "sha256": "same", "labels": ["cat"]},
            {"task_id": 1, "sha256": "fight", "labels": ["cat"]},
            {"task_id": 2, "sha256": "fight", "labels": ["dog"]},
        ]
    )
    chosen = select(frame, exclude_flags=BLOCKED)
    assert chosen.kept["task_id"].tolist() == [4]  # the lowest task id is the keeper
    excluded = chosen.excluded.set_index("task_id")
    assert excluded.loc[9, "reason"] == excluded.loc[7, "reason"] == "exact_duplicate"
    assert "task 4" in excluded.loc[9, "detail"]
    assert excluded.loc[1, "reason"] == excluded.loc[2, "reason"] == "duplicate_label_conflict"


def test_keeper_moves_when_the_first_copy_is_excluded() -> None:
    frame = _frame(
        [
            {"task_id": 1, "sha256": "same", "labels": ["cat"], "flags": ["label_issue"]},
            {"task_id": 2, "sha256": "same", "labels": ["cat"]},
        ]
    )
    assert select(frame, exclude_flags=BLOCKED).kept["task_id"].tolist() == [2]


def test_configured_flags_exclude_and_detection_rows_need_boxes() -> None:
    frame = _frame(
        [
            {
                "task_id": 1,
                "sha256": "a",
                "labels": [],
                "flags": ["pii"],
                "boxes": [{"label": "car", "x": 1, "y": 1, "width": 5, "height": 5}],
            },
            {
                "task_id": 2,
                "sha256": "b",
                "labels": [],
                "boxes": [{"label": "car", "x": 1, "y": 1, "width": 5, "height": 5}],
            },
            {"task_id": 3, "sha256": "c", "labels": [], "boxes": None},
        ]
    )
    chosen = select(frame, exclude_flags=[*BLOCKED, "pii"])
    assert chosen.kept["task_id"].tolist() == [2]
    assert chosen.excluded.set_index("task_id")["reason"].to_dict() == {1: "pii", 3: "unlabelled"}
