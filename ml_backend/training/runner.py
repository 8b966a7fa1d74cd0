"""One training run for one project: annotations in, a registered (maybe promoted) model out.

Steps: pull the project's tasks from Label Studio, keep the usable annotations
(:func:`winnow.learn.dataset.labelled_tasks`), embed their images through the feature store
(unreadable ones are dropped and counted), count examples per class. Below
``min_per_class`` for some class the project stays on zero-shot and the run stops there.
Otherwise the candidate models are trained and offered to the registry
(:mod:`ml_backend.training.candidates`), unless the usable annotations, the embedder and the
training settings are exactly those the serving model was trained on: webhooks that arrive
while a run reads Label Studio queue a second run over the same annotations, and retraining
on them would only replace the model with its twin. A labeling config active learning cannot
train on (detection controls, several ``<Choices>``) is recorded as such, and zero-shot keeps
serving; it is a finding for ``/health``, not a failed run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ml_backend.training.candidates import Candidates
from ml_backend.training.images import ReadFn
from ml_backend.training.worker import TrainRequest
from ml_backend.training.zero_shot import ZeroShotScorer
from winnow.config import Settings
from winnow.features.embed_cache import EmbeddingCache
from winnow.labelstudio.controls.choices import ChoicesControl
from winnow.labelstudio.controls.parse import (
    LabelConfigError,
    parse_box_config,
    parse_label_config,
)
from winnow.learn.dataset import LabelledTasks, below_minimum, class_counts, labelled_tasks
from winnow.learn.registry import Decision, ModelRegistry

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
    fine_tune: str | None = None  # why this run did not fine-tune; None when it did
    unsupported: str | None = None  # why this labeling config is not trained on at all
    data_key: str | None = None  # what the candidates were (or would be) trained on
    unchanged: str | None = None  # why no candidate was trained: the model serving saw it all
    seconds: float = 0.0


def single_control(label_config: str) -> ChoicesControl:
    """The one ``<Choices>`` a trained model learns; ValueError when there are several."""
    controls = parse_label_config(label_config)
    if len(controls) != 1:
        names = [c.from_name for c in controls]
        raise ValueError(f"active learning needs exactly one <Choices> on an image, got {names}")
    return controls[0]


DETECTION = (
    "detection controls (<RectangleLabels>, <PolygonLabels>) stay on the zero-shot detector: "
    "active learning trains one <Choices> image classifier"
)
NOT_ONE_CHOICES = "active learning needs exactly one <Choices> on an <Image>: zero-shot serves"


def unsupported(label_config: str) -> str | None:
    """Why active learning does not train on ``label_config``; None when it does."""
    try:
        if parse_box_config(label_config):
            return DETECTION
        single_control(label_config)
    except (ValueError, LabelConfigError):
        return NOT_ONE_CHOICES
    return None


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
        zero_shot: ZeroShotScorer | None = None,
        last_status: Callable[[int], dict[str, Any]] = lambda project: {},
    ) -> None:
        self.settings = settings
        self.zero_shot = zero_shot  # the first trained model's rival on the held-out tasks
        self.registry = registry
        self.cache = cache
        self.read_for = read_for
        self.client_for = client_for
        self.on_outcome = on_outcome  # (outcome, label_config): the caller decides what serves
        self.last_status = last_status  # the project's recorded findings (status.json)
        self.candidates = Candidates(settings, registry, cache.embedder.model_id)

    def __call__(self, project: int, request: TrainRequest) -> None:
        started = time.monotonic()
        client = self.client_for(project)
        config = client.projects.get(project).label_config
        if (why := unsupported(config)) is not None:
            self.on_outcome(RunOutcome(project, unsupported=why), config)
            return
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
            outcome.fine_tune = self.candidates.fine_tune_skip(len(data), asked=request.fine_tune)
            outcome.data_key = self.data_key(data)
            outcome.unchanged = self.unchanged(project, outcome)
            if outcome.unchanged is not None:  # the last run's fine-tune note still holds
                outcome.fine_tune = self.last_status(project).get("fine_tune")
        if not outcome.short and outcome.unchanged is None:
            outcome.decisions.update(
                self.candidates.train(
                    project,
                    control,
                    data,
                    vectors,
                    fine_tune_asked=request.fine_tune,
                    read=read,
                    zero_shot=self.zero_shot.for_config(config) if self.zero_shot else None,
                )
            )
        elif outcome.unchanged is not None:
            log.info("project %s: no candidate trained: %s", project, outcome.unchanged)
        outcome.seconds = time.monotonic() - started
        self.on_outcome(outcome, config)

    def data_key(self, data: LabelledTasks) -> str:
        """A digest of everything a candidate depends on: each usable (task, image, labels),
        the embedder and the training settings."""
        rows = sorted(zip(data.task_ids, data.sources, data.labels, strict=True))
        basis = [rows, self.cache.embedder.model_id, self.settings.training.model_dump(mode="json")]
        return hashlib.sha256(json.dumps(basis, default=str).encode()).hexdigest()

    def unchanged(self, project: int, outcome: RunOutcome) -> str | None:
        """Why this run need not train: the last run trained candidates on the same data key,
        and this run would not add a fine-tune the last one skipped; None when it must train."""
        last = self.last_status(project)
        if not (last.get("trained") and last.get("data_key") == outcome.data_key):
            return None
        if outcome.fine_tune is None and last.get("fine_tune") is not None:
            return None  # asked for a fine-tune the last run did not do
        return (
            f"the {outcome.n_annotations} usable annotations are those the last run trained "
            f"on ({last.get('version')} serves)"
        )
