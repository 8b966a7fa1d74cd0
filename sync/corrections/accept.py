"""Bulk correction with an undo: a review queue's suggested labels become annotations.

``accept`` picks the tasks of a label-issue queue from the sync state (score at least
``min_score``, a suggested label) and re-reads them from Label Studio. A task's flagged label
is a human annotation; it is never edited: the accepted suggestion is added as a new
annotation beside it, which makes it the task's label (Winnow reads the newest annotation).
Left out: a task where a human annotated after the suggestion was written (a reviewer acted;
with ``skip_annotated``, any task with an annotation), and one with an annotation made from
our own suggestion (a batch already accepted it). The rest go through Label Studio's own
bulk route, the Data Manager action ``predictions_to_annotations`` restricted to the review
predictions (model version ``winnow-review``); Label Studio 1.23 Community has no other bulk
annotation route. The action skips a prediction that already has a child annotation, so a
retried call creates nothing twice.

Each created annotation points at its review prediction (``parent_prediction``): that is how
Label Studio itself marks it as made from a machine suggestion. An annotation has no free
field for "accepted by reviewer X" (no ``meta``; ``ground_truth`` stays false), so the audit
log is the record of who accepted what: one JSON line a batch in ``data_dir/review/
batches.jsonl`` with the batch id, reviewer, time, task ids and the annotation ids with the
``updated_at`` each had when created.

Before anything is written, the reviewers' verdicts on the queue (:func:`sync.review.decisions.
review_checks`) are checked against its estimate: when the tasks reviewers settled show the
queue less precise than estimated (the interval lies below the estimate), accept refuses
unless ``force``: the estimate that made the queue look safe to accept did not hold.

``undo`` deletes exactly those annotations, only where they still exist unchanged (same
``updated_at``); an edited one is a reviewer's work now and is kept and reported. The undo is
logged as its own line.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from label_studio_sdk import LabelStudio

from analysis.label_issue_review import ReviewCheck
from sync.review.batch_log import BatchError, append, batches
from sync.review.decisions import review_checks
from sync.review.pull import fetch_batches
from sync.review.queues import LABEL_QUEUES, PREDICTION_VERSION, Queue
from sync.review.state import SyncState, iter_chunks
from winnow.errors import LabelStudioError, WinnowError
from winnow.labelstudio.calls import ls_call, refusal_status

ACTION = "predictions_to_annotations"
ACTION_CHUNK = 500  # tasks per Data Manager action request


class OverStatedQueue(WinnowError):
    """Reviewers found the queue less precise than its estimate; accept with ``force``."""


@dataclass
class AcceptReport:
    """What ``accept`` did (or, with ``dry_run``, would do)."""

    project: int
    queue: str
    candidates: int = 0  # tasks of the queue in the sync state above min_score
    accepted: list[int] = field(default_factory=list)  # task ids turned into annotations
    human: list[int] = field(default_factory=list)  # skipped: a reviewer acted already
    already: list[int] = field(default_factory=list)  # skipped: our suggestion already accepted
    stale: list[int] = field(default_factory=list)  # skipped: left the queue or no prediction
    annotations: list[dict[str, Any]] = field(default_factory=list)  # id, task, updated_at
    batch: str | None = None
    dry_run: bool = False
    check: ReviewCheck | None = None  # reviewers' verdicts on the queue against its estimate
    check_name: str = ""  # which verdicts: "likely queue", "likely spot check", ...


@dataclass
class UndoReport:
    batch: str
    deleted: list[int] = field(default_factory=list)
    edited: list[int] = field(default_factory=list)  # changed since the batch: kept
    gone: list[int] = field(default_factory=list)  # deleted by someone already


def queue_candidates(
    state: SyncState, project: int, queue: Queue, *, min_score: float = 0.0
) -> list[int]:
    """Task ids of ``queue`` as the last sync wrote them, most severe first."""
    picked = [
        (float(t.data[queue.score_field]), t.task_id)
        for t in state.tasks(project)
        if _in_queue(t.data, queue, min_score)
    ]
    return [task_id for _, task_id in sorted(picked, key=lambda p: (-p[0], p[1]))]


def _in_queue(data: dict[str, Any], queue: Queue, min_score: float) -> bool:
    score = data.get(queue.score_field)
    return (
        queue.key in (data.get("winnow_queues") or [])
        and isinstance(score, int | float)
        and score >= min_score
        and bool(data.get("winnow_suggested_label"))
    )


def _review_prediction(task: dict[str, Any]) -> dict[str, Any] | None:
    ours = [
        p for p in task.get("predictions") or [] if p.get("model_version") == PREDICTION_VERSION
    ]
    return ours[0] if ours else None


def sort_tasks(
    tasks: list[dict[str, Any]],
    queue: Queue,
    min_score: float,
    report: AcceptReport,
    *,
    skip_annotated: bool = False,
) -> None:
    """File each freshly read task under accepted, human, already or stale.

    A task's given label is itself a human annotation; it stays as it is and the accepted
    suggestion is added beside it (the newest annotation is the task's label). A human
    annotation made or changed after the suggestion was written means a reviewer has acted:
    that task is left alone, as is every annotated task with ``skip_annotated``."""
    for task in tasks:
        task_id, prediction = int(task["id"]), _review_prediction(task)
        annotations = task.get("annotations") or []
        ours = [
            a for a in annotations if prediction and a.get("parent_prediction") == prediction["id"]
        ]
        human = [a for a in annotations if a not in ours]
        if ours:
            report.already.append(task_id)
        elif prediction is None or not _in_queue(task.get("data") or {}, queue, min_score):
            report.stale.append(task_id)
        elif (human and skip_annotated) or any(_after(a, prediction) for a in human):
            report.human.append(task_id)
        else:
            report.accepted.append(task_id)


def _after(annotation: dict[str, Any], prediction: dict[str, Any]) -> bool:
    """The annotation was made or changed after the suggestion was written."""
    shown = prediction.get("updated_at") or prediction.get("created_at")
    changed = annotation.get("updated_at") or annotation.get("created_at")
    return shown is None or changed is None or _stamp(changed) > _stamp(shown)


def accept(
    ls: LabelStudio,
    state: SyncState,
    project: int,
    *,
    queue: str,
    log: Path,
    reviewer: str,
    min_score: float = 0.0,
    dry_run: bool = False,
    skip_annotated: bool = False,
    page_size: int = 100,
    force: bool = False,
) -> AcceptReport:
    """Turn the suggested labels of ``queue`` into annotations; see the module docstring."""
    if queue not in LABEL_QUEUES:
        raise ValueError(f"queue must be one of {sorted(LABEL_QUEUES)}, got {queue!r}")
    spec = LABEL_QUEUES[queue]
    report = AcceptReport(project=project, queue=queue, dry_run=dry_run)
    report.check, report.check_name = _check(review_checks(state.label_reviews(project)), queue)
    if report.check and report.check.verdict == "over-stated" and not (force or dry_run):
        raise OverStatedQueue(
            f"{report.check.describe(report.check_name)}: reviewers found the queue less "
            "precise than estimated, so its unreviewed suggestions are not accepted in bulk; "
            "review more of it, or accept anyway with --force"
        )
    ids = queue_candidates(state, project, spec, min_score=min_score)
    report.candidates = len(ids)
    fresh = [t for page in fetch_batches(ls, project, ids, page_size=page_size) for t in page]
    sort_tasks(fresh, spec, min_score, report, skip_annotated=skip_annotated)
    if dry_run:
        return report
    _complete_pending(ls, project, log, page_size)
    if not report.accepted:
        return report
    report.batch = uuid.uuid4().hex[:12]
    record = {
        "batch": report.batch,
        "project": project,
        "queue": queue,
        "min_score": min_score,
        "reviewer": reviewer,
        "task_ids": report.accepted,
        "skipped_human": report.human,
    }
    append(log, {**record, "kind": "pending", "at": _now()})  # before any write: see doc
    for chunk in iter_chunks(report.accepted, ACTION_CHUNK):
        ls_call(
            f"create annotations from review predictions of {len(chunk)} tasks",
            ls.actions.create,
            id=ACTION,
            project=project,
            selected_items={"all": False, "included": chunk},
            request_options={"additional_body_parameters": {"model_version": PREDICTION_VERSION}},
        )
    report.annotations = _created(ls, project, report.accepted, page_size)
    append(log, {**record, "kind": "accept", "at": _now(), "annotations": report.annotations})
    return report


def _check(checks: dict[str, ReviewCheck], queue: str) -> tuple[ReviewCheck | None, str]:
    """The verdicts that speak for ``queue``, with their name: for "likely" its spot check
    once that can check the estimate (a random sample), else every verdict on the queue."""
    spot = checks.get("likely spot check")
    if queue == "likely" and spot is not None and spot.verdict != "unchecked":
        return spot, "likely spot check"
    return checks.get(f"{queue} queue"), f"{queue} queue"


def _complete_pending(ls: LabelStudio, project: int, log: Path, page_size: int) -> None:
    """Write the batch line of a run that died between its pending line and its batch line:
    the annotations made from our predictions on its tasks that no other batch recorded."""
    lines = batches(log)
    done = {b["batch"] for b in lines if b.get("kind") == "accept"}
    known = {a["id"] for b in lines if b.get("kind") == "accept" for a in b["annotations"]}
    for line in lines:
        if line.get("kind") != "pending" or line["batch"] in done or line["project"] != project:
            continue
        made = _created(ls, project, line["task_ids"], page_size)
        found = [a for a in made if a["id"] not in known]
        append(log, {**line, "kind": "accept", "at": _now(), "annotations": found,
                      "recovered": True})  # fmt: skip


def _created(ls: LabelStudio, project: int, task_ids: list[int], page_size: int) -> list[dict]:
    """The annotations made from our review predictions on ``task_ids``, read back."""
    out = []
    for page in fetch_batches(ls, project, task_ids, page_size=page_size):
        for task in page:
            prediction = _review_prediction(task)
            for a in task.get("annotations") or []:
                if prediction is not None and a.get("parent_prediction") == prediction["id"]:
                    out.append({"id": a["id"], "task": task["id"], "updated_at": a["updated_at"]})
    return sorted(out, key=lambda a: a["id"])


def undo(ls: LabelStudio, batch: str, *, log: Path, reviewer: str) -> UndoReport:
    """Delete what ``batch`` added, where it is unchanged; log the undo."""
    found = [b for b in batches(log) if b.get("kind") == "accept" and b.get("batch") == batch]
    if not found:
        raise BatchError(f"no accepted batch {batch!r} in {log}")
    report = UndoReport(batch=batch)
    for ann in found[0]["annotations"]:
        try:
            now = ls_call(f"read annotation {ann['id']}", ls.annotations.get, id=ann["id"])
        except LabelStudioError as exc:
            if refusal_status(exc) != 404:
                raise
            report.gone.append(ann["id"])
            continue
        if _stamp(now.updated_at) != _stamp(ann["updated_at"]):
            report.edited.append(ann["id"])
            continue
        ls_call(f"delete annotation {ann['id']}", ls.annotations.delete, id=ann["id"])
        report.deleted.append(ann["id"])
    append(log, {"kind": "undo", "project": found[0]["project"], "reviewer": reviewer,
                  "at": _now(), **asdict(report)})  # fmt: skip
    return report


def _stamp(value: Any) -> datetime:
    """A timestamp as Label Studio sends it (string or datetime), comparable."""
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
