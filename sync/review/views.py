"""One saved Label Studio View per review queue, plus "Review: all flagged".

Views are found by title among the project's views (the listing is the truth, so a View
created by a run that died before recording it is found, not created again); extra Views of
the same title are deleted, and a View whose filter or ordering differs is updated.

A label-issue View carries its estimated precision and recall after the queue's name
("Review: label issues (likely) · est. precision 0.93, recall 0.61"), so a team sees how far
to trust the queue before opening it. Views are matched on the name before `` · ``, so a new
estimate renames the View instead of adding one.
"""

from __future__ import annotations

from typing import Any

from label_studio_sdk import LabelStudio

from sync.review.queues import ALL_FLAGGED, CHECK_QUEUES, LABEL_QUEUES, QUEUES, Queue
from sync.review.state import SyncState
from winnow.labelstudio.calls import ls_call

# Columns a reviewer does not need in a queue, so the image and Winnow's fields fit the screen.
_NOISE = [
    f"tasks:{c}"
    for c in (
        "inner_id",
        "completed_at",
        "cancelled_annotations",
        "total_predictions",
        "annotators",
        "annotations_results",
        "annotations_ids",
        "predictions_score",
        "predictions_model_versions",
        "predictions_results",
        "file_upload",
        "storage_filename",
        "created_at",
        "updated_at",
        "updated_by",
        "avg_lead_time",
        "draft_exists",
        "data.winnow_queues",  # the filters' list; data.winnow_queue_names reads as text
        "data.winnow_flags",
        "data.winnow_evidence",  # the panel's HTML, shown in the labelling view instead
    )
]
_HIDDEN = {"explore": _NOISE, "labeling": _NOISE}
NOTE_SEPARATOR = " · "


def base_title(title: str) -> str:
    """A View's title without the estimate note."""
    return title.split(NOTE_SEPARATOR, 1)[0]


def queue_notes(estimate: Any) -> dict[str, str]:
    """Queue key -> the estimate's text for the label-issue Views (``estimate``: an
    ``analysis.label_issue_estimate.QueueEstimate`` or None)."""
    if estimate is None:
        return {}
    return {queue.key: estimate.line(part) for part, queue in LABEL_QUEUES.items()}


def with_checks(notes: dict[str, str], checks: dict[str, Any]) -> dict[str, str]:
    """``notes`` with each label-issue queue's review check appended (``checks``: queue part
    -> ``analysis.label_issue_review.ReviewCheck``; a queue nobody reviewed keeps its note)."""
    out = dict(notes)
    for part, check in checks.items():
        key = CHECK_QUEUES[part].key
        out[key] = NOTE_SEPARATOR.join(filter(None, (out.get(key), check.line())))
    return out


def view_data(queue: Queue | None, note: str | None = None) -> dict[str, Any]:
    """The View's filter (queue membership) and ordering (severity, highest first); ``note``
    (the queue's estimate) follows the title."""
    if queue is None:
        item = {
            "filter": "filter:tasks:data.winnow_severity",
            "operator": "greater",
            "type": "Number",
            "value": 0,
        }
        title, field = ALL_FLAGGED, "winnow_severity"
    else:
        item = {
            "filter": "filter:tasks:data.winnow_queues",
            "operator": "contains",
            "type": "String",
            "value": queue.key,
        }
        title, field = queue.title, queue.score_field
    ordering = queue.ordering if queue is not None and queue.ordering else f"-tasks:data.{field}"
    if note:
        title = f"{title}{NOTE_SEPARATOR}{note}"
    return {
        "title": title,
        "filters": {"conjunction": "and", "items": [item]},
        "ordering": [ordering],
        "hiddenColumns": _HIDDEN,
    }


def ensure_views(
    ls: LabelStudio,
    project: int,
    *,
    detection: bool,
    state: SyncState,
    notes: dict[str, str] | None = None,
) -> dict[str, int]:
    """Create or update the review Views; returns title (without note) -> view id.

    ``notes``: queue key -> text shown after the View's title (the queue's estimate)."""
    notes = notes or {}
    queues: list[Queue | None] = [q for q in QUEUES if detection or q.key != "boxes"]
    queues.append(None)
    existing: dict[str, list[Any]] = {}
    for view in ls_call(f"list views of project {project}", ls.views.list, project=project):
        existing.setdefault(base_title((view.data or {}).get("title", "")), []).append(view)
    out = {}
    for queue in queues:
        wanted = view_data(queue, None if queue is None else notes.get(queue.key))
        title = base_title(wanted["title"])
        found = sorted(existing.get(title, []), key=lambda v: v.id)
        for extra in found[1:]:
            ls_call(f"delete duplicate view {title!r}", ls.views.delete, id=str(extra.id))
        if not found:
            view = ls_call(f"create view {title!r}", ls.views.create, project=project, data=wanted)
        elif _differs(found[0].data or {}, wanted):
            view = ls_call(
                f"update view {title!r}",
                ls.views.update,
                id=str(found[0].id),
                project=project,
                data=wanted,
            )
        else:
            view = found[0]
        state.put_view(project, title, int(view.id))
        out[title] = int(view.id)
    return out


def _differs(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return any(current.get(key) != value for key, value in wanted.items())


def queue_url(ls_url: str, project: int, view_id: int) -> str:
    return f"{ls_url.rstrip('/')}/projects/{project}/data?tab={view_id}"
