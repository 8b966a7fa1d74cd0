"""Training examples from Label Studio tasks: (image source, labels) per annotated task.

Annotations come as Label Studio exports them (``task["annotations"]``, each with a
``result`` list). A task's most recent non-cancelled annotation counts. Rows that cannot be
trained on are dropped and counted by reason, never raised: a label that is not (or no
longer) in the labeling config (``unknown_label``), an annotation without a choice for the
control (``no_choice``), several choices in a single-choice control (``several_choices``),
no image address (``no_image``), and later an unreadable image (``unreadable``).

The held-out split is decided per task by a hash of its id and the seed, so a task stays on
the same side as annotations grow: each new model is compared with the current one on the
same held-out tasks. A class with one example cannot be held out (it would vanish from
training), and every class keeps at least one training example.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class LabelledTasks:
    """Parallel lists, one entry per usable annotated task; ``dropped``: reason -> tasks."""

    task_ids: list[int] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    labels: list[list[str]] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)

    def __len__(self) -> int:
        return len(self.task_ids)

    def without(self, rows: Iterable[int], reason: str) -> LabelledTasks:
        """A copy without ``rows`` (positions), counted under ``reason``."""
        gone = set(rows)
        keep = [i for i in range(len(self)) if i not in gone]
        dropped = self.dropped.copy()
        if gone:
            dropped[reason] += len(gone)
        return LabelledTasks(
            [self.task_ids[i] for i in keep],
            [self.sources[i] for i in keep],
            [self.labels[i] for i in keep],
            dropped,
        )


def labelled_tasks(
    tasks: Iterable[Mapping[str, Any]],
    *,
    from_name: str,
    data_key: str,
    classes: Sequence[str],
    multi_label: bool,
) -> LabelledTasks:
    """The usable (task, labels) pairs of one ``<Choices>`` control ``from_name``."""
    known = set(classes)
    out = LabelledTasks()
    for task in tasks:
        annotation = latest_annotation(task.get("annotations") or [])
        if annotation is None:
            continue
        chosen = _choices(annotation, from_name)
        source = (task.get("data") or {}).get(data_key)
        reason = None
        if chosen is None or not chosen:
            reason = "no_choice"
        elif set(chosen) - known:
            reason = "unknown_label"
        elif not multi_label and len(chosen) > 1:
            reason = "several_choices"
        elif not isinstance(source, str) or not source.strip():
            reason = "no_image"
        if reason:
            out.dropped[reason] += 1
            continue
        out.task_ids.append(int(task["id"]))
        out.sources.append(source)
        out.labels.append(sorted(set(chosen), key=list(classes).index))
    return out


def latest_annotation(annotations: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The most recently updated annotation that was not cancelled (skipped), if any."""
    usable = [a for a in annotations if not a.get("was_cancelled")]
    if not usable:
        return None
    return max(usable, key=lambda a: (str(a.get("updated_at") or ""), int(a.get("id") or 0)))


def _choices(annotation: Mapping[str, Any], from_name: str) -> list[str] | None:
    for item in annotation.get("result") or []:
        if item.get("from_name") == from_name and item.get("type") == "choices":
            return [str(c) for c in (item.get("value") or {}).get("choices") or []]
    return None


def class_counts(labels: Iterable[Sequence[str]], classes: Sequence[str]) -> dict[str, int]:
    """Examples per class, every class present (0 when none)."""
    counts = Counter(label for row in labels for label in row)
    return {c: counts.get(c, 0) for c in classes}


def below_minimum(counts: Mapping[str, int], min_per_class: int) -> list[str]:
    """Classes with fewer than ``min_per_class`` examples (empty: ready for a trained model)."""
    return [c for c, n in counts.items() if n < min_per_class]


def holdout_mask(
    task_ids: Sequence[int], labels: Sequence[Sequence[str]], *, fraction: float, seed: int
) -> np.ndarray:
    """bool ``(N,)``: True for held-out rows. Stable per task id (see module docstring)."""
    draws = np.array([_unit_hash(task_id, seed) for task_id in task_ids])
    held = draws < fraction
    counts = Counter(label for row in labels for label in row)
    for i, row in enumerate(labels):
        if held[i] and any(counts[label] < 2 for label in row):
            held[i] = False  # a single example of a class stays in training
    for label in counts:  # every class keeps a training example: the lowest-drawn one
        rows = [i for i, row in enumerate(labels) if label in row]
        if all(held[i] for i in rows):
            held[min(rows, key=lambda i: draws[i])] = False
    return held


def _unit_hash(task_id: int, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
