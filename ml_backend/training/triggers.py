"""Which webhook events start a training run.

``START_TRAINING`` (Label Studio's "Start training" button) runs at once. New or updated
annotations are counted per project and run every ``retrain_every`` of them, except while the
last run found a class short of ``min_per_class`` annotations (``short``): then every
annotation runs, so the one that completes the last class switches the project off
zero-shot at once instead of ``retrain_every`` annotations later. Deleted annotations run at
once but without fine-tuning: the run recounts the annotations, and a class that dropped below
``min_per_class`` must switch predictions back to zero-shot promptly, which needs no new
network.

Counting is idempotent per event: an annotation is counted once per ``(id, updated_at)``, so
a webhook delivered twice (two webhooks to ``/webhook`` on one project, or a retry) does not
bring a run forward. A real update changes ``updated_at`` and counts again.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

from ml_backend.training.worker import TrainRequest

COUNTED = {"ANNOTATION_CREATED": 1, "ANNOTATION_UPDATED": 1}
MANY = {"ANNOTATIONS_CREATED": "annotation"}  # Label Studio sends a list under this key
DELETED = {"ANNOTATION_DELETED", "ANNOTATIONS_DELETED"}
START = "START_TRAINING"
REMEMBERED = 100_000  # annotation events kept for de-duplication (about 10 MB at most)

EventKey = tuple[int, Any, str]


class Triggers:
    def __init__(
        self,
        *,
        retrain_every: int,
        fine_tune: bool,
        short: Callable[[int], bool] | None = None,
        remembered: int = REMEMBERED,
    ) -> None:
        if retrain_every < 1:
            raise ValueError(f"retrain_every must be >= 1, got {retrain_every}")
        self.retrain_every = retrain_every
        self.fine_tune = fine_tune
        self.short = short  # project -> did its last run find a class below min_per_class?
        self.remembered = remembered
        self._lock = threading.Lock()
        self._new: Counter[int] = Counter()
        self._seen: OrderedDict[EventKey, None] = OrderedDict()
        self.duplicates = 0  # events ignored because they were counted before

    def on_event(self, action: str, payload: dict[str, Any]) -> TrainRequest | None:
        """The run this event asks for, or None (not yet, or an event we do not train on)."""
        if action == START:
            return TrainRequest(self.fine_tune, [START])
        if action in DELETED:
            return TrainRequest(False, [action])
        project = event_project(payload)
        items = _annotations(payload, action)
        if not items or project is None:
            return None
        with self._lock:
            added = self._unseen(project, items)
            if not added:
                return None
            self._new[project] += added
            short = self.short is not None and self.short(project)
            if self._new[project] < self.retrain_every and not short:
                return None
            count, self._new[project] = self._new[project], 0
        reason = f"{count} new or updated annotations"
        if short:
            reason += " while a class is below min_per_class"
        return TrainRequest(self.fine_tune, [reason])

    def pending(self, project: int) -> int:
        """Annotations counted since the last run was requested."""
        with self._lock:
            return self._new[project]

    def _unseen(self, project: int, items: list[Any]) -> int:
        """How many of ``items`` were not counted before (call with the lock held)."""
        added = 0
        for item in items:
            key = _event_key(project, item)
            if key is not None and key in self._seen:
                self.duplicates += 1
                continue
            added += 1
            if key is not None:
                self._seen[key] = None
                if len(self._seen) > self.remembered:
                    self._seen.popitem(last=False)
        return added


def event_project(payload: dict[str, Any]) -> int | None:
    """The project id of a webhook payload (``project.id``, else the task's project)."""
    project = payload.get("project")
    value = project.get("id") if isinstance(project, dict) else project
    if value is None and isinstance(payload.get("task"), dict):
        value = payload["task"].get("project")
    try:
        return int(str(value).split(".", 1)[0]) if value is not None else None
    except ValueError:
        return None


def _annotations(payload: dict[str, Any], action: str) -> list[Any]:
    """The annotations an event reports as new or updated ([] for other events)."""
    if action in COUNTED:
        return [payload.get("annotation")]
    key = MANY.get(action)
    if key is None:
        return []
    items = payload.get(key)
    return items if isinstance(items, list) else [items]


def _event_key(project: int, annotation: Any) -> EventKey | None:
    """``(project, annotation id, updated_at)``; None when the payload lacks either."""
    if not isinstance(annotation, dict):
        return None
    ident, updated = annotation.get("id"), annotation.get("updated_at")
    if ident is None or not updated:
        return None
    return project, ident, str(updated)
