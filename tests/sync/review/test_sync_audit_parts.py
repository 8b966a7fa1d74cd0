"""The incremental audit's bookkeeping: a label edit changes the labels part's fingerprint and
not the content part's; a new image or split changes the content part's; stored parts come
back as they were stored (numpy values included); the summary says what was recomputed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sync.review.audit_inputs import (
    AuditPart,
    changed,
    last_part,
    part_inputs,
    part_key,
    remember_part,
)
from sync.review.job import audit_work_line
from sync.review.state import SyncState, TaskRow
from winnow.config import get_settings


def _table(labels: list[str], shas: list[str], splits: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task_id": [1, 2, 3],
            "sha256": shas,
            "label": labels,
            "split": splits,
            "error_kind": [None, None, None],
        }
    )


def _tasks() -> list[TaskRow]:
    return [TaskRow(i, "t", {}, {}, [], [], f"/data/{i}.jpg", None) for i in (1, 2, 3)]


def _keys(table: pd.DataFrame, settings) -> tuple[str, str]:
    content = part_key(part_inputs(table, _tasks(), "content"), settings=settings, model_id="m")
    labels = part_key(
        part_inputs(table, _tasks(), "labels"), settings=settings, model_id="m", under=content
    )
    return content, labels


def test_label_edit_changes_only_the_labels_part(tmp_path: Path) -> None:
    settings = get_settings(data_dir=tmp_path)
    base = _table(["cat", "dog", "cat"], ["a", "b", "c"], ["train"] * 3)
    content, labels = _keys(base, settings)
    relabelled = _table(["cat", "cat", "cat"], ["a", "b", "c"], ["train"] * 3)
    assert _keys(relabelled, settings)[0] == content
    assert _keys(relabelled, settings)[1] != labels
    new_image = _table(["cat", "dog", "cat"], ["a", "b", "z"], ["train"] * 3)
    moved = _table(["cat", "dog", "cat"], ["a", "b", "c"], ["train", "test", "train"])
    for other in (new_image, moved):  # content changes reach the labels part too
        assert _keys(other, settings)[0] != content and _keys(other, settings)[1] != labels
    before = AuditPart(labels, part_inputs(base, _tasks(), "labels"), [])
    assert changed(before, part_inputs(relabelled, _tasks(), "labels")) == 1
    assert changed(None, part_inputs(relabelled, _tasks(), "labels")) == 3


def test_parts_round_trip_through_the_state(tmp_path: Path) -> None:
    record = {
        "path": "task:1",
        "issue_type": "blurry",
        "score": np.float64(0.5),
        "group": np.nan,
        "given_label": None,
        "suggested_label": None,
        "details": "Laplacian variance 3.0",
    }
    with SyncState(tmp_path / "sync.sqlite") as state:
        assert last_part(state, 7, "content") is None
        remember_part(state, 7, "content", AuditPart("k", {"1": "x"}, [record]))
        got = last_part(state, 7, "content")
    assert got is not None and got.key == "k" and got.inputs == {"1": "x"}
    assert got.records[0]["score"] == 0.5 and got.records[0]["details"] == record["details"]


def test_summary_line_says_what_was_recomputed() -> None:
    line = audit_work_line(None, (100, 2.0), embedded=True)
    assert line == (
        "label issues refit (100 changed labels, 2.0 s); duplicates, quality, outliers, PII reused"
    )
    assert audit_work_line(None, None, embedded=True).startswith("agreement and dismissals only")
    assert "rerun (4 tasks" in audit_work_line((4, 1.0), (4, 0.0), embedded=False)
