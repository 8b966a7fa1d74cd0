"""What the API computes with, loaded once per process and kept warm.

One model load serves everything: the zero-shot predictor's feature model is also the search
embedder (CLIP), or wraps it (the ImageNet backbone), so an upload is decoded once (draft
mode) and embedded once. Search by task id reads the stored vector and embeds nothing. Each
part loads independently; what failed is reported by ``/readyz`` and answered with 503.
The Edge index follows the versions `winnow index` publishes, so the API serves through a
rebuild and answers from the new points within a second of publishing, without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import numpy as np
from PIL import Image

from serve.errors import ApiError, unavailable
from winnow.config import Settings
from winnow.errors import ConfigError
from winnow.index import Hit, SearchFilter, VectorIndex, open_live_index

log = logging.getLogger(__name__)
STATS_TTL_S = 30.0


@dataclass
class Parts:
    """The loaded parts; None until loaded. ``errors`` says why a part is missing."""

    index: VectorIndex | None = None
    embedder: Any = None  # winnow.models Embedder for search vectors
    zero_shot: Any = None  # ml_backend ZeroShotPredictor
    registry: Any = None  # winnow.learn.registry.ModelRegistry
    errors: dict[str, str] = field(default_factory=dict)


class Engine:
    def __init__(self, settings: Settings, parts: Parts | None = None) -> None:
        self.settings = settings
        self.parts = parts or Parts()
        self._stats: tuple[float, str | None, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    # -- loading -------------------------------------------------------------------------
    def load(self) -> None:
        """Load every part not injected; a failure is recorded, never raised."""
        for name, loader in (("index", self._load_index), ("model", self._load_models)):
            try:
                loader()
            except Exception as exc:  # reported by /readyz and answered with 503
                # the reason goes to the log only: /readyz is public and says just "failed"
                log.error("the %s failed to load", name, exc_info=True)
                self.parts.errors[name] = str(exc)

    def _load_index(self) -> None:
        if self.parts.index is None:  # follows each version `winnow index` publishes
            self.parts.index = open_live_index(self.settings)

    def _load_models(self) -> None:
        if self.parts.zero_shot is None:
            from winnow.zeroshot import make_predictor

            self.parts.zero_shot = make_predictor(self.settings)
        if self.parts.embedder is None:
            feature = self.parts.zero_shot.feature_model
            self.parts.embedder = getattr(feature, "backbone", feature)
        if self.parts.registry is None:
            try:
                from winnow.learn.registry import ModelRegistry
            except ImportError:  # trained models are optional; zero-shot still answers
                return
            self.parts.registry = ModelRegistry(self.settings.data_dir / "models")

    def missing(self) -> list[str]:
        parts = {"index": self.parts.index, "model": self.parts.embedder}
        return [name for name, part in parts.items() if part is None]

    # -- searching -----------------------------------------------------------------------
    def index(self) -> VectorIndex:
        if self.parts.index is None:
            raise unavailable("the vector index")
        return self.parts.index

    def embed(self, image: Image.Image) -> np.ndarray:
        if self.parts.embedder is None:
            raise unavailable("the embedding model")
        return self.parts.embedder.embed_images([image])[0]

    def embed_text(self, text: str) -> np.ndarray:
        embedder = self.parts.embedder
        if embedder is None:
            raise unavailable("the embedding model")
        if not hasattr(embedder, "embed_texts"):
            raise ApiError(
                501,
                "no_text_model",
                "text search needs CLIP weights: set "
                "WINNOW_EMBEDDING__KIND=clip and WINNOW_EMBEDDING__CLIP_CHECKPOINT "
                "(or a pretrained tag with internet access)",
            )
        return embedder.embed_texts([text])[0]

    def search(self, vector: np.ndarray, k: int, filter: SearchFilter) -> list[Hit]:
        try:
            return self.index().search(vector, k=k, filter=filter)
        except ConfigError as exc:  # the index holds another model's vectors
            raise ApiError(409, "index_mismatch", str(exc)) from exc

    def task_point(self, task_id: int) -> tuple[str, np.ndarray]:
        """The stored point id and vector of a task; 404 if the task is not indexed."""
        found = next(self.index().points(self._scope(task_ids=(task_id,)), with_vectors=True), None)
        if found is None or found.vector is None:
            raise ApiError(404, "unknown_task", f"task {task_id} is not in the index")
        return found.id, found.vector

    def point_ids(self, task_ids: list[int]) -> list[str]:
        return [self.task_point(t)[0] for t in task_ids]

    def _scope(self, **kwargs: Any) -> SearchFilter:
        return SearchFilter(project=self.settings.serve.project, **kwargs)

    # -- classifying ---------------------------------------------------------------------
    def trained_model(self) -> Any | None:
        registry, project = self.parts.registry, self.settings.serve.project
        if registry is None or project is None:
            return None
        return registry.current(project)

    # -- stats ---------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts per label, split and flag, recomputed at most every ``STATS_TTL_S`` and
        whenever a new index version serves."""
        version = getattr(self.parts.index, "version", None)
        with self._lock:
            cached = self._stats
            if cached and cached[1] == version and time.monotonic() - cached[0] < STATS_TTL_S:
                return cached[2]
            counts: dict[str, Any] = {
                "points": 0,
                "per_label": {},
                "per_split": {},
                "per_flag": {},
                "flagged": 0,
            }
            for point in self.index().points(self._scope()):
                _tally(counts, point.payload)
            self._stats = (time.monotonic(), version, counts)
            return counts

    def samples(self, label: str | None, n: int, seed: int = 0) -> list[dict[str, Any]]:
        """Up to ``n`` payloads with this label, a stable random pick per seed.

        Reads at most ``serve.samples_scan_limit`` points and keeps ``n`` (reservoir
        sampling), so memory and time do not grow with the index. The engines list points
        in id order, and ids are hashes of the image bytes, so the points read are an
        unbiased subset of the label even when the scan stops early.
        """
        scope = self._scope(labels=(label,) if label else ())
        limit = self.settings.serve.samples_scan_limit
        rng, kept = np.random.default_rng(seed), []
        for seen, point in enumerate(islice(self.index().points(scope), limit)):
            if seen < n:
                kept.append(point.payload)
            elif (slot := int(rng.integers(0, seen + 1))) < n:
                kept[slot] = point.payload
        return sorted(kept, key=lambda p: p.get("sha256", ""))

    def payload(self, task_id: int) -> dict[str, Any]:
        found = next(self.index().points(self._scope(task_ids=(task_id,))), None)
        if found is None:
            raise ApiError(404, "unknown_task", f"task {task_id} is not in the index")
        return found.payload

    def class_names(self) -> list[str]:
        model = self.trained_model()
        return list(model.classes) if model is not None else sorted(self.stats()["per_label"])


def _tally(counts: dict[str, Any], payload: dict[str, Any]) -> None:
    counts["points"] += 1
    for label in payload.get("labels") or []:
        counts["per_label"][label] = counts["per_label"].get(label, 0) + 1
    split = payload.get("split") or "unassigned"
    counts["per_split"][split] = counts["per_split"].get(split, 0) + 1
    flags = payload.get("flags") or []
    for flag in flags:
        counts["per_flag"][flag] = counts["per_flag"].get(flag, 0) + 1
    counts["flagged"] += bool(flags)
