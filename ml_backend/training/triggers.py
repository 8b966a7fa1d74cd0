"""Which webhook events start a training run.

``START_TRAINING`` (Label Studio's "Start training" button) runs at once. New or updated
annotations are counted per project and run every ``retrain_every`` of them. Deleted
annotations run at once but without fine-tuning: the run recounts the annotations, and a
class that dropped below ``min_per_class`` must switch predictions back to zero-shot
promptly, which needs no new network.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from ml_backend.training.worker import TrainRequest

COUNTED = {"ANNOTATION_CREATED": 1, "ANNOTATION_UPDATED": 1}
MANY = {"ANNOTATIONS_CREATED": "annotation"}  # Label Studio sends a list under this key
DELETED = {"ANNOTATION_DELETED", "ANNOTATIONS_DELETED"}
START = "START_TRAINING"


class Triggers:
    def __init__(self, *, retrain_every: int, fine_tune: bool) -> None:
        if retrain_every < 1:
            raise ValueError(f"retrain_every must be >= 1, got {retrain_every}")
        self.retrain_every = retrain_every
        self.fine_tune = fine_tune
        self._lock = threading.Lock()
        self._new: Counter[int] = Counter()

    def on_event(self, action: str, payload: dict[str, Any]) -> TrainRequest | None:
        """The run this event asks for, or None (not yet, or an event we do not train on)."""
        if action == START:
            return TrainRequest(self.fine_tune, [START])
        if action in DELETED:
            return TrainRequest(False, [action])
        project = event_project(payload)
        added = COUNTED.get(action) or _count_many(payload, MANY.get(action))
        if not added or project is None:
            return None
        with self._lock:
            self._new[project] += added
            if self._new[project] < self.retrain_every:
                return None
            count, self._new[project] = self._new[project], 0
        return TrainRequest(self.fine_tune, [f"{count} new or updated annotations"])

    def pending(self, project: int) -> int:
        """Annotations counted since the last run was requested."""
        with self._lock:
            return self._new[project]


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


def _count_many(payload: dict[str, Any], key: str | None) -> int:
    if key is None:
        return 0
    items = payload.get(key)
    return len(items) if isinstance(items, list) else 1
