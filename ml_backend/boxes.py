"""Box pre-annotations for detection projects: the detector behind ``/predict``.

The detector is built from ``settings.detection`` the first time a label config asks for
boxes (so classification-only backends never load it), or injected. Each image is read with
the service's reader, decoded once, and detected once per content: results are cached in
the feature store's SQLite file per (sha256, model version).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from winnow.config import Settings
from winnow.detection import Detector, make_detector
from winnow.detection.run import detect_cached
from winnow.errors import ImageError
from winnow.imageio import decode_image
from winnow.labelstudio.controls.rectangles import BoxControl
from winnow.store.detections import DetectionStore


@dataclass(frozen=True)
class BoxOutcome:
    result: list[dict[str, Any]] | None
    score: float | None
    error: str | None = None  # "kind: reason" when the image could not be used


class BoxPredictor:
    """Detections as Label Studio regions for the box controls of a plan."""

    def __init__(
        self, settings: Settings, store_path: Path, detector: Detector | None = None
    ) -> None:
        self.settings = settings
        self._detector = detector
        self._lock = threading.Lock()
        self._cache = DetectionStore(store_path)

    @property
    def detector(self) -> Detector:
        with self._lock:
            if self._detector is None:
                self._detector = make_detector(self.settings.detection)
            return self._detector

    def close(self) -> None:
        self._cache.close()

    def version(self, base: str, controls: Sequence[BoxControl]) -> str:
        """The plan's version with the detector, its threshold and the box controls hashed in."""
        payload = {
            "base": base,
            "detector": self.detector.model_version,
            "threshold": self.settings.detection.score_threshold,
            "label_map": self.settings.detection.label_map,
            "controls": [c.signature() for c in controls],
        }
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:10]
        model = self.detector.model_version.split("@", 1)[0]
        return f"detect-{model}@{digest}"

    def predict(
        self,
        tasks: list[dict[str, Any]],
        controls: Sequence[BoxControl],
        read: Callable[[str], bytes],
    ) -> list[BoxOutcome]:
        """One outcome per task: the regions of every box control and their mean score."""
        detector = self.detector
        threshold = self.settings.detection.score_threshold
        per_task: list[list[dict[str, Any]]] = [[] for _ in tasks]
        errors: dict[int, str] = {}
        for key in dict.fromkeys(c.data_key for c in controls):
            found = self._detect(tasks, key, read, errors)
            for control in (c for c in controls if c.data_key == key):
                mapping = control.class_map(detector.classes, self.settings.detection.label_map)
                for i, det in found.items():
                    per_task[i] += control.results(det.confident(threshold), mapping)
        outcomes = []
        for i, regions in enumerate(per_task):
            if i in errors:
                outcomes.append(BoxOutcome(None, None, errors[i]))
                continue
            score = float(np.mean([r["score"] for r in regions])) if regions else 0.0
            outcomes.append(BoxOutcome(regions, score))
        return outcomes

    def _detect(
        self,
        tasks: list[dict[str, Any]],
        key: str,
        read: Callable[[str], bytes],
        errors: dict[int, str],
    ) -> dict[int, Any]:
        pixels: dict[str, np.ndarray] = {}
        sha_of: dict[int, str] = {}
        for i, task in enumerate(tasks):
            data = task.get("data") if isinstance(task, dict) else None
            source = data.get(key) if isinstance(data, dict) else None
            if not isinstance(source, str) or not source.strip():
                errors.setdefault(i, f"missing_data: task data has no image field {key!r}")
                continue
            try:
                raw = read(source)
                sha = hashlib.sha256(raw).hexdigest()
                if sha not in pixels:
                    image = decode_image(raw, source, max_pixels=self.settings.io.max_pixels)
                    pixels[sha] = np.asarray(image.image.convert("RGB"))
                sha_of[i] = sha
            except ImageError as exc:
                errors.setdefault(i, f"{exc.kind}: {exc.reason}")
        found = detect_cached(self.detector, list(pixels), pixels.__getitem__, self._cache)
        return {i: found[sha] for i, sha in sha_of.items() if sha in found}
