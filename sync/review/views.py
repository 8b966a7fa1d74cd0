"""One saved Label Studio View per review queue, plus "Review: all flagged".

Views are found by title among the project's views (the listing is the truth, so a View
created by a run that died before recording it is found, not created again); extra Views of
the same title are deleted, and a View whose filter or ordering differs is updated.
"""

from __future__ import annotations

from typing import Any

from label_studio_sdk import LabelStudio

from sync.review.queues import ALL_FLAGGED, QUEUES, Queue
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
        "data.winnow_queues",
    )
]
_HIDDEN = {"explore": _NOISE, "labeling": _NOISE}


def view_data(queue: Queue | None) -> dict[str, Any]:
    """The View's filter (queue membership) and ordering (severity, highest first)."""
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
    return {
        "title": title,
        "filters": {"conjunction": "and", "items": [item]},
        "ordering": [f"-tasks:data.{field}"],
        "hiddenColumns": _HIDDEN,
    }


def ensure_views(
    ls: LabelStudio, project: int, *, detection: bool, state: SyncState
) -> dict[str, int]:
    """Create or update the review Views; returns title -> view id."""
    queues: list[Queue | None] = [q for q in QUEUES if detection or q.key != "boxes"]
    queues.append(None)
    existing: dict[str, list[Any]] = {}
    for view in ls_call(f"list views of project {project}", ls.views.list, project=project):
        existing.setdefault((view.data or {}).get("title", ""), []).append(view)
    out = {}
    for queue in queues:
        wanted = view_data(queue)
        title = wanted["title"]
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
