"""Audit a pulled project: the table ``analysis.audit`` needs, built from the sync state and
the feature store, and its findings mapped back to tasks (minus what reviewers dismissed).

Labels are the tasks' current human labels, the split comes from the task data field
``settings.sync.split_field``. Unlabelled tasks take part in every check but label issues.
"""

from __future__ import annotations

import importlib.util
import re

import pandas as pd

from analysis.audit import AuditOptions, audit
from sync.audit.folder import aligned_embeddings
from sync.review.state import Finding, TaskRow
from sync.review.taskinfo import boxes_of, label_key, labels_of
from winnow.labelstudio.label_config import LabelControl
from winnow.store import FeatureStore

_TASK_URI = re.compile(r"task:(\d+)")  # the audit's file ids, shown as Label Studio shows tasks


def audit_table(
    tasks: list[TaskRow],
    *,
    control: LabelControl,
    split_field: str,
    store: FeatureStore,
    read_errors: dict[int, tuple[str, str]],
) -> pd.DataFrame:
    """One row per task: ``uri`` = ``task:<id>``, sha256, label, split, errors, measurements."""
    rows = []
    classify = control.tag == "Choices"  # label issues are for whole-image labels only
    for t in tasks:
        labels = labels_of(t, control)
        split = t.data.get(split_field)
        kind, reason = read_errors.get(t.task_id, (None, None))
        rows.append(
            {
                "uri": f"task:{t.task_id}",
                "task_id": t.task_id,
                "sha256": t.sha256,
                "label": (label_key(labels) or None) if classify else None,
                "boxes": [] if classify else boxes_of(t, control),
                "split": split if isinstance(split, str) else None,
                "read_error_kind": kind,
                "read_error": reason,
            }
        )
    table = pd.DataFrame(rows)
    images = store.images_frame()
    table = table.merge(
        images[images["sha256"].isin(table["sha256"].dropna())], on="sha256", how="left"
    )
    table["error_kind"] = table["error_kind"].fillna(table["read_error_kind"])
    table["error"] = table["error"].fillna(table["read_error"])
    missing = table["sha256"].isna() & table["error_kind"].isna()
    table.loc[missing, "error_kind"] = "not_read"
    return table


def audit_tasks(
    table: pd.DataFrame,
    *,
    control: LabelControl,
    store: FeatureStore,
    model_id: str | None,
    dismissed: set[tuple[str, str, str]],
    options: AuditOptions | None = None,
    extra: pd.DataFrame | None = None,
    estimates: dict[str, object] | None = None,
) -> list[Finding]:
    """Findings per task, most severe first, without dismissed (sha256, label, issue) keys.

    ``extra``: findings computed elsewhere in the same shape (PII), merged in. ``estimates``,
    when given, receives the label-issue queues' estimate under ``"label"``."""
    if table.empty:
        return []
    vectors = aligned_embeddings(store, model_id, table) if model_id else None
    result = audit(table, embeddings=vectors, options=options)
    if estimates is not None:
        estimates["label"] = result.label_estimate
    issues = result.issues
    parts = [issues, _box_issues(table, control), extra]
    issues = pd.concat([p for p in parts if p is not None and len(p)], ignore_index=True)
    by_uri = table.set_index("uri")
    findings: dict[tuple[int, str], Finding] = {}
    for row in issues.itertuples(index=False):
        task = by_uri.loc[row.path]
        sha = task["sha256"] if isinstance(task["sha256"], str) else None
        given = row.given_label if isinstance(row.given_label, str) else None
        if sha is not None and (sha, given or "", row.issue_type) in dismissed:
            continue
        key = (int(task["task_id"]), row.issue_type)
        if key in findings:  # one finding per task and type: the most severe
            continue
        findings[key] = Finding(
            task_id=key[0],
            issue_type=row.issue_type,
            score=float(row.score),
            group=row.group if isinstance(row.group, str) else None,
            given_label=given,
            suggested_label=row.suggested_label if isinstance(row.suggested_label, str) else None,
            details=_TASK_URI.sub(r"task \1", str(row.details)),
            sha256=sha,
        )
    return list(findings.values())


def _box_issues(table: pd.DataFrame, control: LabelControl) -> pd.DataFrame:
    """Box sanity findings for detection projects, when the detection audit is installed
    (optional: it lands separately). PII needs detector runs and is not computed here."""
    if (
        control.tag != "RectangleLabels"
        or importlib.util.find_spec("analysis.detection_audit") is None
    ):
        return pd.DataFrame()
    from analysis.boxes import box_sanity
    from analysis.detection_audit import project_boxes

    sized = [
        [b for b in boxes if b.get("original_width") and b.get("original_height")]
        for boxes in table["boxes"]
    ]
    frame = pd.DataFrame({"task_id": table["task_id"], "image": table["uri"], "boxes": sized})
    boxes = project_boxes(frame).drop(columns="task_id")
    return box_sanity(boxes, classes=list(control.labels)) if len(boxes) else pd.DataFrame()
