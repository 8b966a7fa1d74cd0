"""Predictions of a trained model for Label Studio tasks, scored for active learning.

Scores come from :func:`analysis.uncertainty.uncertainty_score`: low = most informative, so
Label Studio's ascending sort by prediction score puts the task worth labelling next first.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from analysis.uncertainty import uncertainty_score
from ml_backend.service import TaskOutcome
from ml_backend.training.images import ReadFn, load_images
from winnow.config import Settings
from winnow.features.embed_cache import EmbeddingCache
from winnow.labelstudio.controls.choices import ChoicesControl
from winnow.learn.registry import TrainedModel

log = logging.getLogger(__name__)


class TrainedPredictor:
    """Runs trained models on task images: heads on cached embeddings, networks on pixels."""

    def __init__(self, settings: Settings, cache: EmbeddingCache) -> None:
        self.settings = settings
        self.cache = cache

    def predict(
        self,
        model: TrainedModel,
        control: ChoicesControl,
        tasks: list[dict[str, Any]],
        read: ReadFn,
    ) -> list[TaskOutcome]:
        """One outcome per task, in order; a task without a readable image gets its error."""
        sources = [task_source(task, control.data_key) for task in tasks]
        rows = [i for i, s in enumerate(sources) if s is not None]
        errors = {
            i: "missing_data: task data has no image field"
            for i in range(len(tasks))
            if sources[i] is None
        }
        probs, failed = self.probabilities(model, [sources[i] for i in rows], read)
        errors.update({rows[j]: e for j, e in failed.items()})
        good = [j for j in range(len(rows)) if j not in failed]
        scores = uncertainty_score(
            probs[good].astype(np.float64),
            self.settings.training.uncertainty,
            multi_label=model.multi_label,
        )
        by_row = {rows[j]: (probs[j], float(s)) for j, s in zip(good, scores, strict=True)}
        threshold = self.settings.backend.multi_threshold
        outcomes = []
        for i, task in enumerate(tasks):
            task_id = task.get("id") if isinstance(task, dict) else None
            if i in errors:
                log.warning("task %s: no prediction: %s", task_id, errors[i])
                outcomes.append(TaskOutcome(task_id, None, error=errors[i]))
                continue
            p, score = by_row[i]
            items, _ = control.result(p, threshold=threshold)
            outcomes.append(TaskOutcome(task_id, items, score))
        return outcomes

    def probabilities(
        self, model: TrainedModel, sources: list[str], read: ReadFn
    ) -> tuple[np.ndarray, dict[int, str]]:
        """``(len(sources), K)`` probabilities and the failed positions' reasons."""
        if model.network is None:
            embedded = self.cache.embed_sources(sources, read)
            failed = {j: f"{e.kind}: {e.reason}" for j, e in embedded.errors.items()}
            return model.predict_proba_vectors(embedded.vectors), failed
        images, failed = load_images(
            sources, read, max_pixels=self.settings.io.max_pixels, min_side=model.network.image_size
        )
        probs = np.zeros((len(sources), len(model.classes)), dtype=np.float32)
        order = sorted(images)
        if order:
            probs[order] = model.predict_proba_images([images[j] for j in order])
        return probs, failed


def task_source(task: dict[str, Any], key: str) -> str | None:
    """The image reference under ``data[key]``, or None when the task has none."""
    data = task.get("data") if isinstance(task, dict) else None
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value.strip() else None
