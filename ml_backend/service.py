"""Tasks in, pre-annotations out: the work behind ``/setup`` and ``/predict``.

Shared by the HTTP app and ``winnow predict``. A label config becomes a :class:`Plan` once
(controls, per-control heads such as CLIP text embeddings, the model version) and is cached
by its text. Images go through :class:`~winnow.features.embed_cache.EmbeddingCache`, so an
image seen before costs a store lookup. A task whose image cannot be used gets no
prediction; the reason is logged and counted, and the other tasks are answered.

Task data is data: its local paths are read only under ``io.local_roots``, by the image
reader's one policy, and a Label Studio address from ``/setup`` that is not the configured
one passes the SSRF guard like any URL.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml_backend.boxes import BoxPredictor
from ml_backend.metrics import Metrics
from winnow.config import LabelStudioSettings, Settings
from winnow.detection import Detector
from winnow.features.embed_cache import EmbeddingCache
from winnow.imageio import ImageReader
from winnow.imageio.httpfetch import origin_of
from winnow.labelstudio.controls.choices import ChoicesControl
from winnow.labelstudio.controls.parse import parse_box_config, parse_label_config
from winnow.labelstudio.controls.rectangles import BoxControl
from winnow.store import FeatureStore
from winnow.zeroshot import ZeroShotPredictor
from winnow.zeroshot.version import model_version

log = logging.getLogger(__name__)
_PLAN_CACHE_SIZE = 32


@dataclass(frozen=True)
class Plan:
    controls: tuple[ChoicesControl, ...]
    heads: tuple[Any, ...]
    version: str
    warnings: tuple[str, ...]
    boxes: tuple[BoxControl, ...] = ()  # detection controls (ml_backend.boxes)


@dataclass(frozen=True)
class _Column:
    """One control's inputs: the task rows with a usable image and their vectors."""

    control: ChoicesControl
    head: Any
    rows: list[int]
    vectors: np.ndarray


@dataclass(frozen=True)
class TaskOutcome:
    task_id: int | None
    result: list[dict[str, Any]] | None  # None: no prediction for this task
    score: float | None = None
    error: str | None = None


class PredictionService:
    """Owns the predictor, the embedding cache and the image readers."""

    def __init__(
        self,
        settings: Settings,
        predictor: ZeroShotPredictor,
        store: FeatureStore,
        *,
        metrics: Metrics | None = None,
        detector: Detector | None = None,
    ) -> None:
        self.settings = settings
        self.boxes = BoxPredictor(settings, store.path, detector)  # detector loads on first use
        self.predictor = predictor
        self.metrics = metrics or Metrics()
        self.cache = EmbeddingCache(
            store,
            predictor.feature_model,
            max_pixels=settings.io.max_pixels,
            threads=settings.backend.fetch_threads,
            batch_size=settings.embedding.batch_size,
            local_roots=settings.io.local_roots,
        )
        self._plans: OrderedDict[str, Plan] = OrderedDict()
        self._plan_lock = threading.Lock()
        self._readers: dict[tuple[str, str | None], ImageReader] = {}
        self._reader_lock = threading.Lock()

    def close(self) -> None:
        self.cache.close()
        self.boxes.close()
        for reader in self._readers.values():
            reader.close()

    def plan(self, label_config: str) -> Plan:
        """The cached plan for a label config; raises LabelConfigError for unsupported ones."""
        key = hashlib.sha256(label_config.encode()).hexdigest()
        with self._plan_lock:
            if key in self._plans:
                self._plans.move_to_end(key)
                return self._plans[key]
            plan = self._build_plan(label_config)
            self._plans[key] = plan
            if len(self._plans) > _PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
            return plan

    def _build_plan(self, label_config: str) -> Plan:
        boxes = tuple(parse_box_config(label_config))
        controls = tuple(parse_label_config(label_config, allow_none=bool(boxes)))
        heads = tuple(self.predictor.class_head(c) for c in controls)
        version = model_version(
            self.predictor.describe(),
            self.predictor.name,
            controls,
            threshold=self.settings.backend.multi_threshold,
        )
        warnings = tuple(w for head in heads for w in self.predictor.warnings(head))
        for warning in warnings:
            log.warning("model %s: %s", version, warning)
        if boxes:
            version = self.boxes.version(version if controls else "", boxes)
        return Plan(controls, heads, version, warnings, boxes)

    def predict(
        self, tasks: list[dict[str, Any]], plan: Plan, *, label_studio: LabelStudioSettings | None
    ) -> list[TaskOutcome]:
        """One outcome per task, in order. ``label_studio``: where relative URLs point."""
        reader = self._reader(label_studio or self.settings.label_studio)
        errors: dict[int, str] = {}  # task row -> "kind: reason"
        where: dict[int, str] = {}  # task row -> the image source, for the log
        columns: list[_Column] = []
        for key in dict.fromkeys(c.data_key for c in plan.controls):
            sources = [_source(task, key) for task in tasks]
            rows = [i for i, src in enumerate(sources) if src is not None]
            for i in set(range(len(tasks))) - set(rows):
                errors.setdefault(i, f"missing_data: task data has no image field {key!r}")
            embedded = self.cache.embed_sources([sources[i] for i in rows], reader.read)
            self.metrics.inc(
                "winnow_backend_embedding_cache_total", embedded.cache_hits, result="hit"
            )
            self.metrics.inc(
                "winnow_backend_embedding_cache_total", embedded.computed, result="computed"
            )
            for j, err in embedded.errors.items():
                errors.setdefault(rows[j], f"{err.kind}: {err.reason}")
                where.setdefault(rows[j], err.source)
            good = [j for j in range(len(rows)) if j not in embedded.errors]
            for control, head in zip(plan.controls, plan.heads, strict=True):
                if control.data_key == key:
                    columns.append(
                        _Column(control, head, [rows[j] for j in good], embedded.vectors[good])
                    )
        if plan.boxes:  # detection: regions join the task's result, their score the mean
            found = self.boxes.predict(tasks, plan.boxes, reader.read)
            for i, box in enumerate(found):
                if box.error is not None:
                    errors.setdefault(i, box.error)
            return self._outcomes(tasks, columns, errors, where, boxes=found)
        return self._outcomes(tasks, columns, errors, where)

    def _outcomes(
        self,
        tasks: list[dict[str, Any]],
        columns: list[_Column],
        errors: dict[int, str],
        where: dict[int, str],
        boxes: list[Any] | None = None,
    ) -> list[TaskOutcome]:
        threshold = self.settings.backend.multi_threshold
        per_task: list[list[tuple[list[dict], float]]] = [[] for _ in tasks]
        for i, box in enumerate(boxes or []):
            if box.result is not None:
                per_task[i].append((box.result, box.score))
        for col in columns:
            if not col.rows:
                continue
            probs = self.predictor.probabilities(
                col.vectors, col.head, multiple=col.control.multiple
            )
            for row, p in zip(col.rows, probs, strict=True):
                per_task[row].append(col.control.result(p, threshold=threshold))
        outcomes = []
        for i, task in enumerate(tasks):
            task_id = task.get("id") if isinstance(task, dict) else None
            if i in errors:
                log.warning(
                    "task %s: no prediction for %s: %s", task_id, where.get(i, "-"), errors[i]
                )
                self.metrics.inc(
                    "winnow_backend_task_failures_total", kind=errors[i].split(":", 1)[0]
                )
                self.metrics.inc("winnow_backend_tasks_total", outcome="failed")
                outcomes.append(TaskOutcome(task_id, None, error=errors[i]))
                continue
            result = [item for items, _ in per_task[i] for item in items]
            score = float(np.mean([s for _, s in per_task[i]]))
            self.metrics.inc("winnow_backend_tasks_total", outcome="predicted")
            outcomes.append(TaskOutcome(task_id, result, score))
        return outcomes

    def _reader(self, label_studio: LabelStudioSettings) -> ImageReader:
        token = label_studio.api_key.get_secret_value() if label_studio.api_key else None
        key = (label_studio.url, token)
        with self._reader_lock:
            if key not in self._readers:
                s = self.settings
                configured = origin_of(label_studio.url) == origin_of(s.label_studio.url)
                self._readers[key] = ImageReader(
                    s.io, label_studio, s.s3, exempt_label_studio=configured
                )
            return self._readers[key]

    def read_source(self, source: str, label_studio: LabelStudioSettings | None = None) -> bytes:
        """One task image's bytes under the backend's rules (for training and ranking)."""
        return self._reader(label_studio or self.settings.label_studio).read(source)


def _source(task: dict[str, Any], key: str) -> str | None:
    data = task.get("data") if isinstance(task, dict) else None
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value.strip() else None
