"""Active learning inside the backend: wires triggers, the training worker, the per-project
model choice, the status report and Label Studio's model version together.

Trained predictions carry the trained model's version, and Label Studio's project
``model_version`` is moved along with every switch (:mod:`ml_backend.training.version_sync`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ml_backend.metrics import Metrics
from ml_backend.service import Plan, PredictionService, TaskOutcome
from ml_backend.training.predict import TrainedPredictor
from ml_backend.training.registry import ProjectModels
from ml_backend.training.runner import RunOutcome, TrainingRun
from ml_backend.training.status import (
    ProjectStatus,
    health_document,
    publish_model_active,
    publish_worker,
)
from ml_backend.training.triggers import Triggers, event_project
from ml_backend.training.version_sync import sync_backends
from ml_backend.training.worker import TrainingWorker
from ml_backend.training.zero_shot import ZeroShotScorer
from winnow.config import LabelStudioSettings, Settings
from winnow.features.embed_cache import EmbeddingCache
from winnow.labelstudio.client import connect
from winnow.learn.registry import ModelRegistry, TrainedModel
from winnow.store import FeatureStore

log = logging.getLogger(__name__)


class ActiveLearning:
    """Owns the registry, the worker and the per-project choice of model."""

    def __init__(
        self,
        settings: Settings,
        service: PredictionService,
        metrics: Metrics,
        *,
        label_studio: dict[int, LabelStudioSettings] | None = None,
        auth: tuple[str, str] | None = None,
        client_for: Callable[[int], Any] | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.metrics = metrics
        self.auth = auth
        self.label_studio = label_studio if label_studio is not None else {}
        self.registry = ModelRegistry(settings.data_dir / "models")
        self.status = ProjectStatus(self.registry.root)
        self.models = ProjectModels(
            self.registry, self.status, min_per_class=settings.training.min_per_class
        )
        self.cache = EmbeddingCache(
            FeatureStore(settings.store_path),
            trainable_embedder(service),
            max_pixels=settings.io.max_pixels,
            threads=settings.backend.fetch_threads,
            batch_size=settings.embedding.batch_size,
            local_roots=settings.io.local_roots,
        )
        self.predictor = TrainedPredictor(settings, self.cache)
        self.triggers = Triggers(
            retrain_every=settings.training.retrain_every,
            fine_tune=settings.training.fine_tune,
            short=self.is_short,
        )
        self._client_for = client_for or self._connect
        run = TrainingRun(
            settings,
            self.registry,
            self.cache,
            read_for=self._read_for,
            client_for=self._client_for,
            on_outcome=self._after_run,
            zero_shot=ZeroShotScorer(service),
            last_status=self.status.get,
        )
        self.worker = TrainingWorker(run, on_change=lambda s: publish_worker(metrics, s))
        publish_worker(metrics, self.worker.status())

    def close(self) -> None:
        self.worker.close()
        self.cache.close()
        self.cache.store.close()

    def on_webhook(self, action: str, payload: dict[str, Any]) -> str:
        """Queue a run if the event asks for one; returns the worker state."""
        project = event_project(payload)
        duplicates = self.triggers.duplicates
        request = self.triggers.on_event(action, payload)
        if self.triggers.duplicates > duplicates:
            self.metrics.inc(
                "winnow_backend_webhook_duplicates_total", self.triggers.duplicates - duplicates
            )
            log.info("project %s: %s delivered again, not counted", project, action)
        if request is not None and project is not None:
            queued = self.worker.request(project, request)
            log.info(
                "project %s: training %s (%s)",
                project,
                "queued" if queued else "merged into the pending run",
                ", ".join(request.reasons),
            )
        return self.worker.status().state

    def active_model(self, project: int | None, plan: Plan) -> TrainedModel | None:
        """The trained model answering ``project`` with this plan, or None for zero-shot."""
        return self.models.active_model(project, plan)

    def version(self, project: int | None, plan: Plan) -> str:
        return self.models.version(project, plan)

    def predict(
        self,
        project: int | None,
        plan: Plan,
        tasks: list[dict[str, Any]],
        *,
        label_studio: LabelStudioSettings | None,
    ) -> tuple[str, list[TaskOutcome]] | None:
        """(version, outcomes) from the trained model, or None when zero-shot should answer."""
        model = self.active_model(project, plan)
        if model is None:
            return None
        read = lambda s: self.service.read_source(s, label_studio)  # noqa: E731
        return model.version, self.predictor.predict(model, plan.controls[0], tasks, read)

    def health(self, zero_shot_class: str) -> dict[str, Any]:
        """The active-learning part of ``/health``; ``zero_shot_class`` names what serves a
        project without a trained model."""
        return health_document(
            self.worker.status(), self.status.known(), zero_shot_class=zero_shot_class
        )

    def is_short(self, project: int) -> bool:
        """Whether the last run of ``project`` found a class below ``min_per_class``: then
        every annotation triggers a run (before any run, ``retrain_every`` decides)."""
        status = self.status.get(project)
        if "short" in status:
            return bool(status["short"])
        return bool(status) and not status.get("trained")  # written before "short" was kept

    def project_status(self, project: int) -> dict[str, Any]:
        """The last run's findings (counts, dropped, trained, version); {} before any run."""
        return self.status.get(project)

    def sync_backends(self, project: int, version: str, *, also: set[str]) -> None:
        """Rename our backend in Label Studio to ``version``; it is found by a version we
        served (a registry version or one in ``also``)."""
        known = also | set(self.registry.versions(project))
        sync_backends(self._client_for(project), project, version, known=known, auth=self.auth)

    def _after_run(self, outcome: RunOutcome, label_config: str) -> None:
        """Record what answers the project after a finished run and move Label Studio along."""
        plan = self.service.plan(label_config)
        switch = self.models.record(outcome, plan)
        publish_model_active(self.metrics, outcome.project, switch.after != plan.version)
        if switch.changed:
            self.sync_backends(outcome.project, switch.after, also={switch.before, plan.version})

    def _read_for(self, project: int) -> Callable[[str], bytes]:
        label_studio = self.label_studio.get(project)
        return lambda source: self.service.read_source(source, label_studio)

    def _connect(self, project: int) -> Any:
        creds = self.label_studio.get(project) or self.settings.label_studio
        return connect(creds, check=False)


def trainable_embedder(service: PredictionService) -> Any:
    """The embedder the linear head reads: the settings' embedder, not a zero-shot output
    (the ImageNet predictor caches softmax vectors; its backbone embeds)."""
    feature_model = service.predictor.feature_model
    return getattr(feature_model, "backbone", feature_model)
