"""Active learning inside the backend: triggers, the worker, and which model answers /predict.

A project is served by its trained model once the last training run found at least
``min_per_class`` usable annotations for every class (and the model's classes match the
labeling config); otherwise zero-shot answers, and every switch is logged with the reason.
The decision is kept per project in ``<models>/<project>/status.json``, so a restarted
backend serves the same model.

Trained predictions are scored with :func:`analysis.uncertainty.uncertainty_score`: low =
most informative, so Label Studio's ascending sort by prediction score puts the task worth
labelling next first. Their ``model_version`` is the trained model's version, and Label
Studio's project ``model_version`` is moved along with every switch (see
:mod:`ml_backend.versions`): otherwise sorting by score silently shows nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from analysis.uncertainty import uncertainty_score
from ml_backend.metrics import Metrics
from ml_backend.service import Plan, PredictionService, TaskOutcome
from ml_backend.training.runner import RunOutcome, TrainingRun, load_images
from ml_backend.training.triggers import Triggers, event_project
from ml_backend.training.worker import STATES, TrainingWorker, WorkerStatus
from ml_backend.versions import sync_model_version
from winnow.config import LabelStudioSettings, Settings
from winnow.errors import WinnowError
from winnow.features.embed_cache import EmbeddingCache
from winnow.labelstudio.client import connect
from winnow.learn.registry import ModelRegistry, TrainedModel
from winnow.store import FeatureStore

log = logging.getLogger(__name__)


class ActiveLearning:
    """Owns the registry, the worker and the per-project serving decision."""

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
        self.cache = EmbeddingCache(
            FeatureStore(settings.store_path),
            trainable_embedder(service),
            max_pixels=settings.io.max_pixels,
            threads=settings.backend.fetch_threads,
            batch_size=settings.embedding.batch_size,
        )
        self.triggers = Triggers(
            retrain_every=settings.training.retrain_every, fine_tune=settings.training.fine_tune
        )
        self._client_for = client_for or self._connect
        self._lock = threading.Lock()
        self._status: dict[int, dict[str, Any]] = {}
        run = TrainingRun(
            settings,
            self.registry,
            self.cache,
            read_for=self._read_for,
            client_for=self._client_for,
            on_outcome=self._after_run,
        )
        self.worker = TrainingWorker(run, on_change=self._publish)
        self._publish(self.worker.status())

    def close(self) -> None:
        self.worker.close()
        self.cache.close()
        self.cache.store.close()

    # -- requests -------------------------------------------------------------------------

    def on_webhook(self, action: str, payload: dict[str, Any]) -> str:
        """Queue a run if the event asks for one; returns the worker state."""
        project = event_project(payload)
        request = self.triggers.on_event(action, payload)
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
        """The trained model serving ``project`` with this plan, or None for zero-shot."""
        if project is None or len(plan.controls) != 1:
            return None
        status = self.project_status(project)
        if not status.get("trained"):
            return None
        model = self.registry.current(project)
        control = plan.controls[0]
        if (
            model is None
            or model.classes != tuple(control.labels)
            or (model.multi_label != control.multiple)
        ):
            return None
        return model

    def version(self, project: int | None, plan: Plan) -> str:
        model = self.active_model(project, plan)
        return model.version if model is not None else plan.version

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
        control = plan.controls[0]
        sources = [_source(task, control.data_key) for task in tasks]
        rows = [i for i, s in enumerate(sources) if s is not None]
        errors = {
            i: "missing_data: task data has no image field"
            for i in range(len(tasks))
            if sources[i] is None
        }
        read = lambda s: self.service.read_source(s, label_studio)  # noqa: E731
        probs, failed = self._probabilities(model, [sources[i] for i in rows], read)
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
        return model.version, outcomes

    def _probabilities(
        self, model: TrainedModel, sources: list[str], read: Callable[[str], bytes]
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

    # -- state ----------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        worker = self.worker.status()
        models = {str(p): s.get("version") for p, s in self._all_status().items()}
        return {
            "training": worker.state,
            "training_error": worker.last_error,
            "models": models or None,
        }

    def _after_run(self, outcome: RunOutcome, label_config: str) -> None:
        """Record the serving decision of a finished run and move Label Studio along."""
        project = outcome.project
        plan = self.service.plan(label_config)
        before = self.project_status(project).get("version") or plan.version  # as served
        status = {
            "trained": not outcome.short,
            "counts": outcome.counts,
            "dropped": outcome.dropped,
            "n_annotations": outcome.n_annotations,
        }
        with self._lock:
            self._status[project] = status
        after = status["version"] = self.version(project, plan)
        self._save_status(project, status)
        self.metrics.set(
            "winnow_backend_trained_model_active",
            1.0 if after != plan.version else 0.0,
            project=str(project),
        )
        if outcome.short:
            k = self.settings.training.min_per_class
            log.warning(
                "project %s: serving zero-shot %s: classes %s have fewer than %d usable "
                "annotations (counts %s)",
                project,
                plan.version,
                outcome.short,
                k,
                outcome.counts,
            )
        elif after != before:
            log.info("project %s: serving trained model %s", project, after)
        if after != before:
            self.sync_backends(project, after, also={before, plan.version})

    def sync_backends(self, project: int, version: str, *, also: set[str]) -> None:
        """Rename our backend in Label Studio to ``version``; it is found by a version we
        served (a registry version or one in ``also``), since Label Studio keeps title ==
        version for it."""
        client = self._client_for(project)
        known = also | set(self.registry.versions(project))
        for backend in client.ml.list(project=project):
            if backend.title in known or backend.model_version in known:
                sync_model_version(client, project, version, url=backend.url, auth=self.auth)

    def _publish(self, status: WorkerStatus) -> None:
        self.metrics.set_state("winnow_backend_training_state", status.state, STATES)
        self.metrics.set("winnow_backend_training_runs", float(status.runs), outcome="all")
        self.metrics.set("winnow_backend_training_runs", float(status.failures), outcome="failed")

    def project_status(self, project: int) -> dict[str, Any]:
        """The last run's findings (counts, dropped, trained, version); {} before any run."""
        with self._lock:
            if project not in self._status:
                path = self.registry.root / str(project) / "status.json"
                try:
                    self._status[project] = json.loads(path.read_text())
                except (OSError, ValueError):
                    self._status[project] = {}
            return self._status[project]

    def _all_status(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return dict(self._status)

    def _save_status(self, project: int, status: dict[str, Any]) -> None:
        folder = self.registry.root / str(project)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "status.json").write_text(json.dumps(status, indent=2))
        with self._lock:
            self._status[project] = status

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


def _source(task: dict[str, Any], key: str) -> str | None:
    data = task.get("data") if isinstance(task, dict) else None
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value.strip() else None


def attach(state: Any) -> ActiveLearning | None:
    """Active learning for a started backend (``app.state.backend``), if enabled. A failure
    here is logged and leaves zero-shot serving, never a backend that does not start."""
    from ml_backend.auth import basic_auth

    if state.service is None or not state.settings.training.enabled:
        return None
    try:
        return ActiveLearning(
            state.settings,
            state.service,
            state.metrics,
            label_studio=state.label_studio,
            auth=basic_auth(state.settings),
        )
    except (WinnowError, OSError) as exc:
        log.error("active learning is off: %s", exc)
        return None
