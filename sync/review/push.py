"""Write findings to Label Studio tasks without touching a human annotation.

Only task ``data`` fields Winnow owns (:data:`queues.FIELDS`), Winnow's flags inside
``winnow_flags``, ``meta["winnow_review"]`` and predictions of model version
``winnow-review`` are ever written. Every write compares the wanted value with the task as
Label Studio last returned it, so a re-run after a crash writes only what is still missing
and never duplicates a prediction. A flagged task's evidence panel is kept while the findings
it shows are the same (:mod:`sync.review.evidence_keep`), so a label edit does not rewrite
the panels of every task that shows the edited task as a neighbour or copy.

How the writes travel:

- task fields: one PATCH a task (Label Studio has no bulk update of task data), through a
  small bounded pool (:mod:`sync.review.pool`). The PATCH answers with the whole task; it is
  stored at once, with the ``updated_at`` the write produced, so the next pull does not
  re-read it;
- new review predictions: one bulk import a project (``/api/projects/{id}/import/predictions``).
  The import does not move ``updated_at``, so the tasks are marked pending in the state first,
  and read back after: a run killed in between makes the next pull re-read them, and a task
  never gets a second review prediction;
- changed or extra review predictions (rare: a suggestion changed or went away): one call each,
  in the pool, before the task's PATCH, so the PATCH's answer carries the final task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from label_studio_sdk import LabelStudio

from sync.review.evidence_keep import kept_panel, material_fingerprints
from sync.review.field_drift import only_numbers_drifted
from sync.review.pool import run_bounded
from sync.review.pull import fetch_batches, task_row
from sync.review.queues import (
    DUPLICATE_TYPES,
    FIELDS,
    LABEL_ISSUE_TYPES,
    PREDICTION_VERSION,
    is_managed,
    queue_names,
    queue_of,
)
from sync.review.state import Finding, SyncState, TaskRow, iter_chunks
from winnow.labelstudio.calls import ls_call
from winnow.labelstudio.label_config import LabelControl

META_KEY = "winnow_review"


SAMPLE = 5  # task ids shown per kind of write in a dry run
IMPORT_CHUNK = 1000  # predictions per bulk import request


@dataclass
class PushReport:
    tasks_updated: int = 0
    predictions_created: int = 0
    predictions_updated: int = 0
    predictions_deleted: int = 0
    tasks_reread: int = 0  # tasks read back after prediction writes
    dry_run: bool = False
    sample: dict[str, list[int]] = field(default_factory=dict)  # kind -> first task ids

    @property
    def writes(self) -> int:
        return (
            self.tasks_updated
            + self.predictions_created
            + self.predictions_updated
            + self.predictions_deleted
        )


@dataclass
class TaskPlan:
    """What one task needs; ``data``/``meta`` None when its fields are already right."""

    task: TaskRow
    data: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None
    create: list[dict] | None = None  # result of a new review prediction
    update: tuple[int, list[dict]] | None = None  # (prediction id, result)
    delete: list[int] = field(default_factory=list)  # prediction ids

    @property
    def empty(self) -> bool:
        return self.data is None and not self.create and not self.update and not self.delete

    @property
    def pooled(self) -> bool:
        """Has a write that goes through the pool (everything but a create)."""
        return self.data is not None or bool(self.update) or bool(self.delete)


def wanted_data(
    task: TaskRow, findings: list[Finding], evidence: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The task's data and meta with Winnow's fields set from ``findings`` (or removed);
    ``evidence``: the task's evidence panel HTML (:mod:`sync.review.evidence`)."""
    data = {k: v for k, v in task.data.items() if k not in FIELDS}
    others = [f for f in task.data.get("winnow_flags") or [] if not is_managed(f)]
    meta = {k: v for k, v in task.meta.items() if k != META_KEY}
    ranked = sorted(findings, key=lambda f: (-f.score, f.issue_type))  # ties: stable order
    flags = [*others, *(f.issue_type for f in ranked)]
    if flags:
        data["winnow_flags"] = flags
    if "winnow_evidence" in task.data or evidence:
        # Label Studio refuses task data without a field its config shows (the panel):
        # once written, the field stays, emptied when the task is no longer flagged.
        data["winnow_evidence"] = evidence or ""
    if not ranked:
        return data, meta
    data["winnow_queues"] = sorted({queue_of(f.issue_type).key for f in ranked})
    data["winnow_queue_names"] = queue_names(set(data["winnow_queues"]))
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


def plan_task(
    task: TaskRow,
    findings: list[Finding],
    control: LabelControl,
    evidence: str | None = None,
    *,
    fingerprint: str | None = None,
) -> TaskPlan:
    """Compare ``task`` as last seen with what ``findings`` want written. ``fingerprint``:
    that of ``findings`` (:mod:`sync.review.evidence_keep`); a written panel built from it
    is kept unless the task is written anyway, then ``evidence`` (the fresh one) goes along."""
    plan = TaskPlan(task)
    kept = kept_panel(task, fingerprint) if findings else None
    data, meta = wanted_data(task, findings, evidence if kept is None else kept)
    changed = (data != task.data or meta != task.meta) and not only_numbers_drifted(
        (task.data, task.meta), (data, meta)
    )
    if changed and kept is not None and evidence is not None:
        data, meta = wanted_data(task, findings, evidence)
    if changed:
        for key in control.shown_fields:  # Label Studio refuses data without a shown field
            data.setdefault(key, "")
        plan.data, plan.meta = data, meta
    result = wanted_prediction(findings, control)
    ours = [p for p in task.predictions if p.get("model_version") == PREDICTION_VERSION]
    keep, extra = (ours[0], ours[1:]) if ours and result is not None else (None, ours)
    plan.delete = [int(p["id"]) for p in extra]
    if result is not None and keep is None:
        plan.create = result
    elif result is not None and _strip(keep.get("result")) != _strip(result):
        plan.update = (int(keep["id"]), result)
    return plan


def plan_push(
    tasks: list[TaskRow],
    findings: list[Finding],
    control: LabelControl,
    evidence: dict[int, str] | None = None,
    *,
    refresh_evidence: bool = False,
) -> list[TaskPlan]:
    """Every task that needs a write, in task order; ``evidence``: task id -> panel HTML.
    A written panel is kept while its findings' fingerprint matches, unless
    ``refresh_evidence``."""
    by_task = _by_task(findings)
    panels = evidence or {}
    prints = {} if refresh_evidence else material_fingerprints(findings)
    plans = (
        plan_task(
            t,
            by_task.get(t.task_id, []),
            control,
            panels.get(t.task_id),
            fingerprint=prints.get(t.task_id),
        )
        for t in tasks
    )
    return [p for p in plans if not p.empty]


def panels_wanted(
    tasks: list[TaskRow], findings: list[Finding], *, refresh_evidence: bool = False
) -> set[int]:
    """The flagged tasks whose evidence panel the push needs built: its written panel was
    built from other findings (or ``refresh_evidence``), or the task is written anyway. Empty
    after a sync that changed nothing, so such a sync builds no panel."""
    by_task = _by_task(findings)
    prints = {} if refresh_evidence else material_fingerprints(findings)
    wanted = set()
    for task in tasks:
        found = by_task.get(task.task_id)
        if not found:
            continue
        kept = kept_panel(task, prints.get(task.task_id))
        if kept is None or wanted_data(task, found, kept) != (task.data, task.meta):
            wanted.add(task.task_id)
    return wanted


def _by_task(findings: list[Finding]) -> dict[int, list[Finding]]:
    by_task: dict[int, list[Finding]] = {}
    for f in findings:
        by_task.setdefault(f.task_id, []).append(f)
    return by_task


def describe(plans: list[TaskPlan]) -> PushReport:
    """The writes ``plans`` would make, counted, with the first few task ids of each kind."""
    report = PushReport(dry_run=True)
    kinds = {
        "task fields": [p for p in plans if p.data is not None],
        "new predictions": [p for p in plans if p.create],
        "changed predictions": [p for p in plans if p.update],
        "extra predictions": [p for p in plans if p.delete],
    }
    report.tasks_updated = len(kinds["task fields"])
    report.predictions_created = len(kinds["new predictions"])
    report.predictions_updated = len(kinds["changed predictions"])
    report.predictions_deleted = sum(len(p.delete) for p in kinds["extra predictions"])
    report.sample = {k: [p.task.task_id for p in v[:SAMPLE]] for k, v in kinds.items() if v}
    return report


def push_all(
    ls: LabelStudio,
    project: int,
    tasks: list[TaskRow],
    findings: list[Finding],
    *,
    control: LabelControl,
    state: SyncState,
    image_key: str | None,
    workers: int = 1,
    page_size: int = 100,
    pace_s: float = 0.0,
    dry_run: bool = False,
    advance: Callable[[int], None] | None = None,
    evidence: dict[int, str] | None = None,
    refresh_evidence: bool = False,
) -> PushReport:
    """Bring every task's fields and review prediction to the wanted state.

    ``workers`` PATCH at once; ``pace_s`` spaces the per-task writes; ``evidence``: task id
    -> evidence panel HTML (built for :func:`panels_wanted`; a current written panel is kept
    unless ``refresh_evidence``). With ``dry_run`` nothing is written and the report says
    what would be."""
    plans = plan_push(tasks, findings, control, evidence, refresh_evidence=refresh_evidence)
    if dry_run:
        return describe(plans)
    report = PushReport()
    reread: set[int] = set()

    def done(plan: TaskPlan, answer: dict[str, Any] | None) -> None:
        report.predictions_deleted += len(plan.delete)
        report.predictions_updated += bool(plan.update)
        if answer is not None:
            state.put_tasks(project, [task_row(answer, image_key)])
            report.tasks_updated += 1
        else:  # a prediction call moved updated_at: read the task back
            reread.add(plan.task.task_id)
        if advance:
            advance(1)

    run_bounded(
        [p for p in plans if p.pooled],
        partial(_write, ls, project),
        done,
        workers=workers,
        pace_s=pace_s,
    )
    creates = [p for p in plans if p.create]
    _import_predictions(ls, project, creates, state=state, report=report)
    if advance and creates:
        advance(len(creates))
    _read_back(
        ls,
        project,
        sorted(reread | {p.task.task_id for p in creates}),
        state=state,
        image_key=image_key,
        page_size=page_size,
        report=report,
    )
    return report


def _write(ls: LabelStudio, project: int, plan: TaskPlan) -> dict[str, Any] | None:
    """One task's pooled writes (in a worker thread, no state access); the PATCH's answer."""
    task_id = plan.task.task_id
    for pid in plan.delete:
        ls_call(f"delete prediction {pid}", ls.predictions.delete, id=pid)
    if plan.update:
        pid, result = plan.update
        ls_call(f"update prediction {pid}", ls.predictions.update, id=pid, result=result)
    if plan.data is None:
        return None
    answer = ls_call(
        f"update task {task_id}", ls.tasks.update, id=str(task_id), data=plan.data, meta=plan.meta
    )
    return answer.model_dump(mode="json")


def _import_predictions(
    ls: LabelStudio,
    project: int,
    plans: list[TaskPlan],
    *,
    state: SyncState,
    report: PushReport,
) -> None:
    """New review predictions in bulk, the tasks marked pending first (see module doc)."""
    if not plans:
        return
    state.mark_pending_predictions(project, [p.task.task_id for p in plans])
    for chunk in iter_chunks(plans, IMPORT_CHUNK):
        body = [
            {
                "task": p.task.task_id,
                "result": p.create,
                "model_version": PREDICTION_VERSION,
                "score": 1.0,
            }
            for p in chunk
        ]
        ls_call(
            f"import {len(body)} review predictions into project {project}",
            ls.projects.import_predictions,
            id=project,
            request=body,
        )
        report.predictions_created += len(body)


def _read_back(
    ls: LabelStudio,
    project: int,
    task_ids: list[int],
    *,
    state: SyncState,
    image_key: str | None,
    page_size: int,
    report: PushReport,
) -> None:
    """Store the tasks as Label Studio now has them, then drop their pending mark."""
    for page in fetch_batches(ls, project, task_ids, page_size=page_size):
        state.put_tasks(project, [task_row(t, image_key) for t in page])
        report.tasks_reread += len(page)
    state.clear_pending_predictions(project, task_ids)


def _strip(result: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    """A prediction result reduced to what it says (Label Studio adds ids and origins)."""
    out = []
    for item in result or []:
        value = item.get("value") or {}
        out.append((item.get("from_name"), item.get("to_name"), tuple(value.get("choices") or [])))
    return sorted(out)
