"""Audit a pulled project: the table ``analysis.audit`` needs, built from the sync state and
the feature store, and its findings mapped back to tasks (minus what reviewers dismissed).

Labels are the tasks' current human labels, the split comes from the task data field
``settings.sync.split_field``. Unlabelled tasks take part in every check but label issues.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import replace

import pandas as pd

from analysis.audit import ISSUE_TYPES, AuditOptions, audit
from analysis.findings import ISSUE_COLUMNS
from analysis.label_issue_estimate import QueueEstimate
from analysis.label_probe import LabelProbe
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


LABEL_CHECKS = frozenset({"label_issue", "possible_label_issue"})  # all that labels decide


def content_issues(
    table: pd.DataFrame,
    *,
    store: FeatureStore,
    model_id: str | None,
    options: AuditOptions,
    pii: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Raw findings that only content decides (duplicates, split leaks, quality, outliers,
    unreadable files; ``pii`` appended): a label edit cannot change them."""
    checks = options.checks - LABEL_CHECKS
    if table.empty or not checks:
        return pd.DataFrame(columns=ISSUE_COLUMNS)
    vectors = aligned_embeddings(store, model_id, table) if model_id else None
    issues = audit(table, embeddings=vectors, options=replace(options, checks=checks)).issues
    return pd.concat([p for p in (issues, pii) if p is not None and len(p)] or [issues])


def label_issues(
    table: pd.DataFrame, *, store: FeatureStore, model_id: str | None, options: AuditOptions
) -> tuple[pd.DataFrame, QueueEstimate | None, LabelProbe | None]:
    """Raw label-issue findings, their queues' estimate and the probe they stood on: the
    label-issue model refitted on the cached embeddings, or rescored on
    ``options.label_probe`` (:mod:`sync.review.label_refit`); nothing is read from the images."""
    checks = options.checks & LABEL_CHECKS
    if table.empty or not checks or not model_id:
        return pd.DataFrame(columns=ISSUE_COLUMNS), None, None
    vectors = aligned_embeddings(store, model_id, table)
    if vectors is None:
        return pd.DataFrame(columns=ISSUE_COLUMNS), None, None
    only = replace(options, checks=checks, pixels=None, resolution=None)
    result = audit(table, embeddings=vectors, options=only)
    return result.issues, result.label_estimate, result.label_probe


def audit_tasks(
    table: pd.DataFrame,
    *,
    control: LabelControl,
    dismissed: set[tuple[str, str, str]],
    content: pd.DataFrame,
    labels: pd.DataFrame,
    extra: pd.DataFrame | None = None,
) -> list[Finding]:
    """Findings per task, most severe first, without dismissed (sha256, label, issue) keys.

    ``content`` and ``labels``: the two parts' raw findings, possibly from an earlier run;
    content findings take each task's current label. ``extra``: findings computed elsewhere
    in the same shape (annotator disagreement), merged in."""
    if table.empty:
        return []
    pii = content[content["issue_type"] == "pii"]
    content = content[content["issue_type"] != "pii"].copy()
    label_of = dict(zip(table["uri"], table["label"], strict=True))
    content["given_label"] = content["path"].map(label_of)
    issues = _most_severe_first(pd.concat([content, labels], ignore_index=True))
    parts = [issues, _box_issues(table, control), extra, pii]
    issues = pd.concat([p for p in parts if p is not None and len(p)], ignore_index=True)
    task_of = dict(zip(table["uri"], table["task_id"], strict=True))
    sha_of = dict(zip(table["uri"], table["sha256"], strict=True))
    findings: dict[tuple[int, str], Finding] = {}
    for row in issues.itertuples(index=False):
        sha = sha_of[row.path] if isinstance(sha_of[row.path], str) else None
        given = row.given_label if isinstance(row.given_label, str) else None
        if sha is not None and (sha, given or "", row.issue_type) in dismissed:
            continue
        key = (int(task_of[row.path]), row.issue_type)
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


def _most_severe_first(issues: pd.DataFrame) -> pd.DataFrame:
    """The audit's own order (issue type by severity, then score), for the two parts merged."""
    order = {name: i for i, name in enumerate(ISSUE_TYPES)}
    return issues.sort_values(
        ["issue_type", "score"],
        key=lambda c: c.map(order) if c.name == "issue_type" else -c,
        kind="stable",
    ).reset_index(drop=True)


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
