"""Reviewer decisions on flagged tasks, read from the tasks as the last pull returned them.

- ``keep`` in the ``winnow_review`` choices: every open finding of the task is dismissed for
  this content and label, so it is not raised again unless the label or the image changes.
- a label different from the one the finding was raised on: the reviewer relabelled; the
  label issue is dismissed for the new label (a human chose it after seeing the flag).
- ``relabel`` / ``remove``: recorded in the audit log; the flags stay until acted on.

Each decision is logged once (per annotation version) with who and when.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.review.queues import LABEL_ISSUE_TYPES
from sync.review.state import Finding, SyncState, TaskRow
from sync.review.taskinfo import label_key, labels_of, review_choice, who
from winnow.labelstudio.label_config import LabelControl


@dataclass
class DecisionReport:
    kept: int = 0
    relabelled: int = 0
    other: int = 0


def record_decisions(
    state: SyncState, project: int, tasks: list[TaskRow], control: LabelControl
) -> DecisionReport:
    """Compare the open findings with each task's current annotation; dismiss and log."""
    report = DecisionReport()
    open_by_task: dict[int, list[Finding]] = {}
    for f in state.findings(project):
        open_by_task.setdefault(f.task_id, []).append(f)
    for task in tasks:
        findings = open_by_task.get(task.task_id)
        if not findings or not task.sha256:
            continue
        choice, annotation = review_choice(task)
        if annotation is None:
            continue
        stamp = str(annotation.get("updated_at") or "")
        if state.decision_seen(project, task.task_id, int(annotation.get("id") or 0), stamp):
            continue
        _decide(state, project, task, findings, choice, annotation, control, report)
    return report


def _decide(
    state: SyncState,
    project: int,
    task: TaskRow,
    findings: list[Finding],
    choice: str | None,
    annotation: dict,
    control: LabelControl,
    report: DecisionReport,
) -> None:
    labels = label_key(labels_of(task, control))
    by, at = who(annotation), str(annotation.get("updated_at") or "")
    sha = task.sha256 or ""
    if choice == "keep":
        for f in findings:
            state.dismiss(sha, labels, f.issue_type, by=by, at=at)
        types = ", ".join(sorted(f.issue_type for f in findings))
        state.log(
            project,
            task.task_id,
            at=at,
            who=by,
            action="keep",
            what=f"kept label {labels or '(none)'}; dismissed {types}",
        )
        report.kept += 1
        return
    label_issue = next((f for f in findings if f.issue_type in LABEL_ISSUE_TYPES), None)
    if label_issue is not None and (label_issue.given_label or "") != labels:
        for issue_type in sorted(LABEL_ISSUE_TYPES):  # either queue: the new label is a decision
            state.dismiss(sha, labels, issue_type, by=by, at=at)
        state.log(
            project,
            task.task_id,
            at=at,
            who=by,
            action="relabel",
            what=f"label {label_issue.given_label or '(none)'} -> {labels or '(none)'} "
            f"(suggested {label_issue.suggested_label})",
        )
        report.relabelled += 1
    if choice in ("relabel", "remove"):
        state.log(
            project,
            task.task_id,
            at=at,
            who=by,
            action=choice,
            what=f"marked {choice}; open: {', '.join(f.issue_type for f in findings)}",
        )
        report.other += 1
