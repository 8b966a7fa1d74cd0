"""Write findings to Label Studio tasks without touching a human annotation.

Only task ``data`` fields Winnow owns (:data:`queues.FIELDS`), Winnow's flags inside
``winnow_flags``, ``meta["winnow_review"]`` and predictions of model version
``winnow-review`` are ever written. Every write compares the wanted value with the task as
Label Studio last returned it, so a re-run after a crash writes only what is still missing
and never duplicates a prediction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from label_studio_sdk import LabelStudio

from sync.review.queues import (
    DUPLICATE_TYPES,
    FIELDS,
    LABEL_ISSUE_TYPES,
    PREDICTION_VERSION,
    is_managed,
    queue_of,
)
from sync.review.state import Finding, SyncState, TaskRow
from winnow.labelstudio.calls import ls_call
from winnow.labelstudio.label_config import LabelControl

META_KEY = "winnow_review"


@dataclass
class PushReport:
    tasks_updated: int = 0
    predictions_created: int = 0
    predictions_updated: int = 0
    predictions_deleted: int = 0


def wanted_data(task: TaskRow, findings: list[Finding]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The task's data and meta with Winnow's fields set from ``findings`` (or removed)."""
    data = {k: v for k, v in task.data.items() if k not in FIELDS}
    others = [f for f in task.data.get("winnow_flags") or [] if not is_managed(f)]
    meta = {k: v for k, v in task.meta.items() if k != META_KEY}
    ranked = sorted(findings, key=lambda f: -f.score)
    flags = [*others, *(f.issue_type for f in ranked)]
    if flags:
        data["winnow_flags"] = flags
    if not ranked:
        return data, meta
    data["winnow_queues"] = sorted({queue_of(f.issue_type).key for f in ranked})
    data["winnow_severity"] = round(max(f.score for f in ranked), 4)
    for f in ranked:
        if f.issue_type in LABEL_ISSUE_TYPES and "winnow_label_issue_score" not in data:
            data["winnow_label_issue_score"] = round(f.score, 4)
            if f.suggested_label:
                data["winnow_suggested_label"] = f.suggested_label
        if f.group and f.issue_type in DUPLICATE_TYPES and "winnow_dup_group" not in data:
            data["winnow_dup_group"] = f.group
    meta[META_KEY] = [f"{f.issue_type} ({f.score:.2f}): {f.details}" for f in ranked]
    return data, meta


def wanted_prediction(findings: list[Finding], control: LabelControl) -> list[dict] | None:
    """The suggested label as a prediction result, for Choices projects with a label issue."""
    issue = next((f for f in findings if f.issue_type in LABEL_ISSUE_TYPES), None)
    if issue is None or not issue.suggested_label or control.tag != "Choices":
        return None
    return control.choices_result(issue.suggested_label.split("|"))


def push_task(
    ls: LabelStudio,
    project: int,
    task: TaskRow,
    findings: list[Finding],
    *,
    control: LabelControl,
    state: SyncState,
    report: PushReport,
) -> bool:
    """Bring one task's fields and prediction to the wanted state; True if anything was written."""
    data, meta = wanted_data(task, findings)
    wrote = False
    if data != task.data or meta != task.meta:
        ls_call(
            f"update task {task.task_id}",
            ls.tasks.update,
            id=str(task.task_id),
            data=data,
            meta=meta,
        )
        state.put_tasks(project, [replace(task, data=data, meta=meta)])
        report.tasks_updated += 1
        wrote = True
    return (
        _push_prediction(ls, project, task, wanted_prediction(findings, control), report=report)
        or wrote
    )


def _push_prediction(
    ls: LabelStudio,
    project: int,
    task: TaskRow,
    result: list[dict] | None,
    *,
    report: PushReport,
) -> bool:
    ours = [p for p in task.predictions if p.get("model_version") == PREDICTION_VERSION]
    if result is not None and not ours:  # the pulled copy may be stale after a crash
        ours = [
            p.model_dump(mode="json")
            for p in ls_call(
                f"list predictions of task {task.task_id}", ls.predictions.list, task=task.task_id
            )
            if p.model_version == PREDICTION_VERSION
        ]
    keep, extra = (ours[0], ours[1:]) if ours and result is not None else (None, ours)
    wrote = False
    for p in extra:
        ls_call(f"delete prediction {p['id']}", ls.predictions.delete, id=int(p["id"]))
        report.predictions_deleted += 1
        wrote = True
    if result is None:
        return wrote
    if keep is None:
        ls_call(
            f"add a prediction to task {task.task_id}",
            ls.predictions.create,
            task=task.task_id,
            result=result,
            model_version=PREDICTION_VERSION,
            score=1.0,
        )
        report.predictions_created += 1
        return True
    if _strip(keep.get("result")) != _strip(result):
        ls_call(
            f"update prediction {keep['id']}",
            ls.predictions.update,
            id=int(keep["id"]),
            result=result,
        )
        report.predictions_updated += 1
        return True
    return wrote


def push_all(
    ls: LabelStudio,
    project: int,
    tasks: list[TaskRow],
    findings: list[Finding],
    *,
    control: LabelControl,
    state: SyncState,
    pace_s: float = 0.0,
    advance: Callable[[int], None] | None = None,
) -> PushReport:
    """Push every task's wanted state; ``pace_s`` pauses after each task that was written."""
    report = PushReport()
    by_task: dict[int, list[Finding]] = {}
    for f in findings:
        by_task.setdefault(f.task_id, []).append(f)
    for task in tasks:
        wrote = push_task(
            ls,
            project,
            task,
            by_task.get(task.task_id, []),
            control=control,
            state=state,
            report=report,
        )
        if wrote and pace_s:
            time.sleep(pace_s)
        if advance:
            advance(1)
    return report


def _strip(result: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """A prediction result reduced to what it says (Label Studio adds ids and origins)."""
    out = []
    for item in result or []:
        value = item.get("value") or {}
        out.append((item.get("from_name"), item.get("to_name"), tuple(value.get("choices") or [])))
    return sorted(out)
