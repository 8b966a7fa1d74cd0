"""Reviewer decisions on flagged tasks, read from the tasks as the last pull returned them.

- ``keep`` in the ``winnow_review`` choices: every open finding of the task is dismissed for
  this content and label, so it is not raised again unless the label or the image changes.
- a label different from the one the finding was raised on: the reviewer relabelled; the
  label issue is dismissed for the new label (a human chose it after seeing the flag).
- ``relabel`` / ``remove``: recorded in the audit log; the flags stay until acted on.

Each decision is logged once (per annotation version) with who and when. A keep or a changed
label on a label-issue flag is also kept as a verdict on that queue (``SyncState.
label_reviews``), with the queue's estimated precision at the time: the verdicts check the
estimate (:mod:`analysis.label_issue_review`). An annotation made by ``winnow review accept``
is a machine suggestion, not a verdict, and is left out of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.label_issue_review import ReviewCheck, check_reviews
from sync.review.queues import LABEL_ISSUE_TYPES, LABEL_QUEUE_OF, SPOT_CHECK_TYPE
from sync.review.state import Finding, LabelReview, SyncState, TaskRow
from sync.review.taskinfo import label_key, labels_of, review_choice, who
from winnow.labelstudio.label_config import LabelControl


@dataclass
class DecisionReport:
    kept: int = 0
    relabelled: int = 0
    other: int = 0


@dataclass(frozen=True)
class Verdicts:
    """What a label-issue verdict is checked against: ``estimate``, the last audit's
    :meth:`~analysis.label_issue_estimate.QueueEstimate.as_dict` (None: no estimate), and
    ``machine``, the ids of annotations made by accepted batches (not a reviewer's verdict)."""

    estimate: dict | None = None
    machine: frozenset[int] = frozenset()

    def precision(self, queue: str) -> float | None:
        return (self.estimate or {}).get(f"precision_{queue}")


def review_checks(reviews: list[LabelReview]) -> dict[str, ReviewCheck]:
    """Check name (:data:`~sync.review.queues.CHECK_QUEUES`) -> reviewers' verdicts, each
    checked against the mean of the estimates its verdicts were given under (what the queue
    promised for those tasks): "likely queue" and "possible queue" hold every verdict on the
    queue (mostly its top: an upper estimate), "likely spot check" only those on the likely
    queue's random sample (:mod:`sync.review.spot_check`)."""
    groups = {
        "likely queue": [r for r in reviews if r.queue == "likely"],
        "likely spot check": [r for r in reviews if r.queue == "likely" and r.spot],
        "possible queue": [r for r in reviews if r.queue == "possible"],
    }
    out = {}
    for name, mine in groups.items():
        if not mine:
            continue
        promised = [r.estimate for r in mine if r.estimate is not None]
        estimate = sum(promised) / len(promised) if promised else None
        out[name] = check_reviews(sum(r.confirmed for r in mine), len(mine), estimate)
    return out


def record_decisions(
    state: SyncState,
    project: int,
    tasks: list[TaskRow],
    control: LabelControl,
    verdicts: Verdicts | None = None,
) -> DecisionReport:
    """Compare the open findings with each task's current annotation; dismiss and log."""
    verdicts = verdicts or Verdicts()
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
        confirmed = _decide(state, project, task, findings, choice, annotation, control, report)
        review = _verdict(task.task_id, findings, confirmed, annotation, verdicts)
        if review is not None:
            state.record_review(project, review)
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
) -> bool | None:
    """Dismiss and log; returns the verdict on the label-issue flag: False for a keep, True
    for a changed label, None for neither."""
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
        return False
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
        relabelled = True
    else:
        relabelled = None
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
    return relabelled


def _verdict(
    task_id: int,
    findings: list[Finding],
    confirmed: bool | None,
    annotation: dict,
    verdicts: Verdicts,
) -> LabelReview | None:
    """The reviewer's verdict on the task's label-issue flag, or None: no flag, no verdict
    (the label stands and nobody said keep), or an annotation a batch made."""
    flag = next((f for f in findings if f.issue_type in LABEL_ISSUE_TYPES), None)
    if flag is None or confirmed is None or int(annotation.get("id") or 0) in verdicts.machine:
        return None
    queue = LABEL_QUEUE_OF[flag.issue_type]
    return LabelReview(
        task_id,
        flag.given_label or "",
        queue,
        confirmed=confirmed,
        estimate=verdicts.precision(queue),
        who=who(annotation),
        at=str(annotation.get("updated_at") or ""),
        spot=any(f.issue_type == SPOT_CHECK_TYPE for f in findings),
    )
