"""Scoring candidate models on one run's held-out tasks, so the registry compares a new model
with the current one, or with zero-shot before any trained model serves, on the same
examples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from ml_backend.training.images import ReadFn, load_images
from ml_backend.training.zero_shot import ZeroShotFn
from winnow.config import Settings
from winnow.labelstudio.controls.choices import ChoicesControl
from winnow.learn.dataset import LabelledTasks
from winnow.learn.evaluate import holdout_score
from winnow.learn.registry import Baseline, TrainedModel


class HoldoutEvaluator:
    """Scores any model on this run's held-out tasks (vectors for heads, images for nets)."""

    def __init__(
        self,
        data: LabelledTasks,
        vectors: np.ndarray,
        held: np.ndarray,
        control: ChoicesControl,
        read: ReadFn,
        settings: Settings,
        *,
        zero_shot: ZeroShotFn | None = None,
    ) -> None:
        self.data, self.vectors, self.control, self.read = data, vectors, control, read
        self.rows = np.flatnonzero(held)
        self.settings = settings
        self.zero_shot = zero_shot
        self._images: dict[int, Image.Image] = {}
        self._baseline: Baseline | None = None

    def __call__(self, model: TrainedModel) -> float | None:
        if tuple(model.classes) != tuple(self.control.labels) or (
            model.multi_label != self.control.multiple
        ):
            return None  # a model of another labeling config: not comparable
        rows = self.rows
        if model.network is None:
            probs = model.predict_proba_vectors(self.vectors[rows])
        else:
            images, _ = self.images(rows)
            rows = np.array([i for i in rows if i in images], dtype=int)
            probs = model.predict_proba_images([images[i] for i in rows])
        labels = [self.data.labels[i] for i in rows]
        return holdout_score(probs, labels, self.control.labels, multi_label=model.multi_label)

    def baseline(self) -> Baseline:
        """Zero-shot's score on the held-out tasks (computed once per run); needs
        ``zero_shot``. Rows zero-shot cannot read are left out of its score."""
        if self.zero_shot is None:
            raise ValueError("no zero-shot predictor to score")
        if self._baseline is None:
            sources = [self.data.sources[i] for i in self.rows]
            version, probs, ok = self.zero_shot(sources, self.read)
            labels = [self.data.labels[i] for i, good in zip(self.rows, ok, strict=True) if good]
            score = holdout_score(
                probs[ok], labels, self.control.labels, multi_label=self.control.multiple
            )
            self._baseline = Baseline(version, score)
        return self._baseline

    def images(self, rows: Sequence[int]) -> tuple[dict[int, Image.Image], dict[int, str]]:
        """Decoded images of ``rows`` (cached across calls) and the failures of new ones."""
        todo = [int(i) for i in rows if int(i) not in self._images]
        loaded, errors = load_images(
            [self.data.sources[i] for i in todo],
            self.read,
            max_pixels=self.settings.io.max_pixels,
            min_side=self.settings.training.image_size,
        )
        self._images.update({todo[j]: image for j, image in loaded.items()})
        return {int(i): self._images[int(i)] for i in rows if int(i) in self._images}, {
            todo[j]: e for j, e in errors.items()
        }
