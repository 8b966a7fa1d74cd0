"""One training run for one project: annotations in, a registered (maybe promoted) model out.

Steps: pull the project's tasks from Label Studio, keep the usable annotations
(:func:`winnow.learn.dataset.labelled_tasks`), embed their images through the feature store
(unreadable ones are dropped and counted), count examples per class. Below
``min_per_class`` for some class the project stays on zero-shot and the run stops there.
Otherwise the fast path fits a linear head on the cached embeddings and offers it to the
registry; then, if ``fine_tune`` is on, a fastai network is fine-tuned and offered too. The
registry promotes a model only if it is not worse on the same held-out tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from ml_backend.training.holdout import HoldoutEvaluator
from ml_backend.training.images import ReadFn
from ml_backend.training.worker import TrainRequest
from winnow.config import Settings
from winnow.features.embed_cache import EmbeddingCache
from winnow.labelstudio.controls.choices import ChoicesControl
from winnow.labelstudio.controls.parse import parse_label_config
from winnow.learn.dataset import (
    LabelledTasks,
    below_minimum,
    class_counts,
    holdout_mask,
    labelled_tasks,
)
from winnow.learn.linear_head import fit_linear_head
from winnow.learn.registry import Decision, ModelRegistry, TrainedModel, make_version
from winnow.learn.trainer import FitOptions, fine_tune

log = logging.getLogger(__name__)


@dataclass
class RunOutcome:
    """What one run found and did (kept per project for /health and the serving switch)."""

    project: int
    n_annotations: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    short: list[str] = field(default_factory=list)  # classes below min_per_class
    dropped: dict[str, int] = field(default_factory=dict)
    decisions: dict[str, Decision] = field(default_factory=dict)  # version -> decision
    seconds: float = 0.0


def single_control(label_config: str) -> ChoicesControl:
    """The one ``<Choices>`` a trained model learns; ValueError when there are several."""
    controls = parse_label_config(label_config)
    if len(controls) != 1:
        names = [c.from_name for c in controls]
        raise ValueError(f"active learning needs exactly one <Choices> on an image, got {names}")
    return controls[0]


def task_dicts(client: Any, project: int) -> list[dict[str, Any]]:
    """Every task of ``project`` with its data and annotations, as plain dicts."""
    tasks = []
    for task in client.tasks.list(project=project, fields="all", page_size=500):
        annotations = [
            a if isinstance(a, dict) else a.model_dump() for a in (task.annotations or [])
        ]
        tasks.append({"id": task.id, "data": task.data, "annotations": annotations})
    return tasks


class TrainingRun:
    """``run(project, request)`` for :class:`~ml_backend.training.worker.TrainingWorker`."""

    def __init__(
        self,
        settings: Settings,
        registry: ModelRegistry,
        cache: EmbeddingCache,
        *,
        read_for: Callable[[int], ReadFn],
        client_for: Callable[[int], Any],
        on_outcome: Callable[[RunOutcome, str], None],
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.cache = cache
        self.read_for = read_for
        self.client_for = client_for
        self.on_outcome = on_outcome  # (outcome, label_config): the caller decides what serves

    def __call__(self, project: int, request: TrainRequest) -> None:
        started = time.monotonic()
        client = self.client_for(project)
        config = client.projects.get(project).label_config
        control = single_control(config)
        read = self.read_for(project)
        data = labelled_tasks(
            task_dicts(client, project),
            from_name=control.from_name,
            data_key=control.data_key,
            classes=control.labels,
            multi_label=control.multiple,
        )
        embedded = self.cache.embed_sources(data.sources, read)
        data, vectors = data.without(embedded.errors, "unreadable"), embedded.vectors[embedded.ok]
        outcome = RunOutcome(
            project,
            len(data),
            class_counts(data.labels, control.labels),
            dropped=dict(data.dropped),
        )
        outcome.short = below_minimum(outcome.counts, self.settings.training.min_per_class)
        if data.dropped:
            log.warning(
                "project %s: annotations not used for training: %s", project, dict(data.dropped)
            )
        if not outcome.short:
            self._train(project, control, data, vectors, request, outcome, read)
        outcome.seconds = time.monotonic() - started
        self.on_outcome(outcome, config)

    def _train(
        self,
        project: int,
        control: ChoicesControl,
        data: LabelledTasks,
        vectors: np.ndarray,
        request: TrainRequest,
        outcome: RunOutcome,
        read: ReadFn,
    ) -> None:
        t = self.settings.training
        held = holdout_mask(data.task_ids, data.labels, fraction=t.holdout_fraction, seed=t.seed)
        train = np.flatnonzero(~held)
        head = fit_linear_head(
            vectors[train],
            [data.labels[i] for i in train],
            classes=control.labels,
            multi_label=control.multiple,
            seed=t.seed,
        )
        evaluate = HoldoutEvaluator(data, vectors, held, control, read, self.settings)
        linear = TrainedModel(
            self._version(project, "linear", self.cache.embedder.model_id, len(data)),
            "linear",
            head,
            self.cache.embedder.model_id,
            len(data),
            metrics=_metrics(len(train), int(held.sum())),
        )
        self._offer(project, linear, evaluate, outcome)
        if not (request.fine_tune and t.fine_tune):
            return
        images, errors = evaluate.images(train)
        keep = [i for i in train if i in images]
        network = fine_tune(
            [images[i] for i in keep],
            [data.labels[i] for i in keep],
            classes=control.labels,
            multi_label=control.multiple,
            options=FitOptions(t.arch, t.epochs, t.image_size, seed=t.seed),
        )
        tuned = TrainedModel(
            self._version(project, "fastai", t.arch, len(data)),
            "fastai",
            head,
            self.cache.embedder.model_id,
            len(data),
            metrics=_metrics(len(keep), int(held.sum())),
            network=network,
        )
        self._offer(project, tuned, evaluate, outcome)

    def _offer(
        self, project: int, model: TrainedModel, evaluate: HoldoutEvaluator, outcome: RunOutcome
    ) -> None:
        decision = self.registry.consider(
            project,
            model,
            evaluate,
            only_if_not_worse=self.settings.training.replace_only_if_not_worse,
        )
        outcome.decisions[model.version] = decision
        log.info(
            "project %s: model %s %s (%s)",
            project,
            model.version,
            "promoted" if decision.promoted else "kept aside",
            decision.reason,
        )

    def _version(self, project: int, kind: str, name: str, n: int) -> str:
        """A fresh version; a second run within the same second moves the stamp along."""
        existing = set(self.registry.versions(project))
        now = datetime.now(UTC)
        while (version := make_version(kind, name, n, now)) in existing:
            now += timedelta(seconds=1)
        return version


def _metrics(train_size: int, holdout_size: int) -> dict[str, Any]:
    return {"train_size": train_size, "holdout_size": holdout_size}
