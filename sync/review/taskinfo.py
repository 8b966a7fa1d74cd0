"""What a pulled task says: its current human labels, boxes and reviewer decision.

"Current" is the newest annotation that was not cancelled (for labels: the newest that
holds labels, so an annotation with only a review choice does not erase them): a reviewer
who edits or replaces an annotation changes what Winnow treats as the task's label, and
older annotations stay in Label Studio untouched.
"""

from __future__ import annotations

from typing import Any

from sync.review.state import TaskRow
from winnow.labelstudio.label_config import REVIEW_CONTROL, LabelControl

_VALUE_KEY = {"Choices": "choices", "RectangleLabels": "rectanglelabels"}


def current_annotation(task: TaskRow, control: str | None = None) -> dict[str, Any] | None:
    """The newest annotation not cancelled (by ``updated_at``, then id); with ``control``,
    the newest with a result for that control."""
    live = [
        a
        for a in task.annotations
        if not a.get("was_cancelled")
        and (control is None or any(r.get("from_name") == control for r in a.get("result") or []))
    ]
    if not live:
        return None
    return max(live, key=lambda a: (str(a.get("updated_at") or ""), int(a.get("id") or 0)))


def labels_of(task: TaskRow, control: LabelControl) -> list[str]:
    """Sorted distinct labels of the current annotation for ``control`` ([] if none)."""
    annotation = current_annotation(task, control.name)
    return [] if annotation is None else annotation_labels(annotation, control)


def annotation_labels(annotation: dict[str, Any], control: LabelControl) -> list[str]:
    """Sorted distinct labels one annotation gives through ``control``."""
    key = _VALUE_KEY.get(control.tag, "choices")
    found: set[str] = set()
    for item in annotation.get("result") or []:
        if item.get("from_name") == control.name:
            found.update(str(v) for v in (item.get("value") or {}).get(key) or [])
    return sorted(found)


def boxes_of(task: TaskRow, control: LabelControl) -> list[dict[str, Any]]:
    """Rectangles of the current annotation, in Label Studio percent units."""
    annotation = current_annotation(task, control.name)
    if annotation is None or control.tag != "RectangleLabels":
        return []
    boxes = []
    for item in annotation.get("result") or []:
        value = item.get("value") or {}
        if item.get("from_name") != control.name or "x" not in value:
            continue
        geometry = {k: value.get(k) for k in ("x", "y", "width", "height")}
        size = {k: item.get(k) for k in ("original_width", "original_height")}
        boxes += [
            {"label": label, **geometry, **size} for label in value.get("rectanglelabels") or []
        ]
    return boxes


def review_choice(task: TaskRow) -> tuple[str | None, dict[str, Any] | None]:
    """The ``winnow_review`` choice of the current annotation, with that annotation."""
    annotation = current_annotation(task)
    if annotation is None:
        return None, None
    for item in annotation.get("result") or []:
        if item.get("from_name") == REVIEW_CONTROL:
            choices = (item.get("value") or {}).get("choices") or []
            if choices:
                return str(choices[0]), annotation
    return None, annotation


def label_key(labels: list[str]) -> str:
    """The label part of a dismissal key: sorted labels joined by '|', '' when unlabelled."""
    return "|".join(sorted(labels))


def who(annotation: dict[str, Any]) -> str:
    """A readable annotator name from what the task listing carries."""
    name = str(annotation.get("created_username") or "").strip()
    user = annotation.get("updated_by") or annotation.get("completed_by")
    return name or (f"user {user}" if user is not None else "unknown")
