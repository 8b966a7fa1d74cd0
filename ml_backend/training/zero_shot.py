"""Zero-shot probabilities for a run's held-out tasks, so the first trained model has to beat
the zero-shot predictor it would replace, on the same tasks (``/predict``'s own path: the
service's plan head over the service's cached features)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ml_backend.service import PredictionService
from ml_backend.training.images import ReadFn

# (sources, read) -> (zero-shot version, (N, K) probabilities, bool (N,) usable rows)
ZeroShotFn = Callable[[Sequence[str], ReadFn], tuple[str, np.ndarray, np.ndarray]]


class ZeroShotScorer:
    """Zero-shot answers for one labeling config's single ``<Choices>`` control."""

    def __init__(self, service: PredictionService) -> None:
        self.service = service

    def for_config(self, label_config: str) -> ZeroShotFn:
        """The zero-shot function of ``label_config`` (the plan is cached by the service)."""

        def probabilities(
            sources: Sequence[str], read: ReadFn
        ) -> tuple[str, np.ndarray, np.ndarray]:
            plan = self.service.plan(label_config)
            control, head = plan.controls[0], plan.heads[0]
            if not sources:
                return plan.version, np.zeros((0, len(control.labels))), np.zeros(0, bool)
            embedded = self.service.cache.embed_sources(list(sources), read)
            probs = self.service.predictor.probabilities(
                embedded.vectors, head, multiple=control.multiple
            )
            return plan.version, np.asarray(probs), embedded.ok

        return probabilities
