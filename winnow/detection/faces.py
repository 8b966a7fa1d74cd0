"""OpenCV face detectors: the Haar cascade (``detection.faces: haar``), which ships in the
wheel, and YuNet (``detection.faces: yunet`` with ``detection.face_model``). The default PII
face detector is MTCNN (:mod:`winnow.detection.mtcnn`); the cascade is the older option.
A classic detector: it finds frontal faces of a reasonable size and misses profiles, small
faces and faces in drawings. It gives no probability, so every face scores 1.0; treat it as a
cheap first pass for "this picture may show a person", not as a guarantee of absence.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from winnow.detection.base import Detection
from winnow.errors import ModelError

CASCADE = "haarcascade_frontalface_default.xml"
_MAX_SIDE = 1024  # the cascade's cost grows with pixels; faces stay findable at this size


class HaarFaceDetector:
    """Frontal faces, labelled ``face``."""

    classes = ("face",)
    has_masks = False

    def __init__(self, *, min_face_fraction: float = 0.03, min_neighbors: int = 5) -> None:
        import cv2

        path = Path(cv2.data.haarcascades) / CASCADE
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ModelError(f"OpenCV could not load its Haar cascade {path}")
        self._cv2 = cv2
        self.min_face_fraction = min_face_fraction
        self.min_neighbors = min_neighbors
        self.model_version = f"haar-frontalface@opencv-{cv2.__version__}-n{min_neighbors}"

    def detect(self, images: list[np.ndarray]) -> list[Detection]:
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: np.ndarray) -> Detection:
        cv2 = self._cv2
        height, width = image.shape[:2]
        scale = min(1.0, _MAX_SIDE / max(height, width))
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            gray = cv2.resize(
                gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
            )
        gray = cv2.equalizeHist(gray)
        side = max(12, int(self.min_face_fraction * min(gray.shape)))
        found = self._cascade.detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=self.min_neighbors, minSize=(side, side)
        )
        rects = np.asarray(found, dtype=np.float32).reshape(-1, 4) / scale
        boxes = np.column_stack([rects[:, :2], rects[:, :2] + rects[:, 2:]]).astype(np.float32)
        order = np.argsort(-(rects[:, 2] * rects[:, 3]), kind="stable")  # biggest first
        return Detection(
            boxes[order],
            ("face",) * len(rects),
            np.ones(len(rects), np.float32),
            self.model_version,
            width,
            height,
        )


class YuNetFaceDetector:
    """OpenCV's YuNet (a small CNN): finds profiles and small faces the cascade misses, with
    real scores. Its ONNX file does not ship with OpenCV; ``detection.face_model`` names it
    (``face_detection_yunet_2023mar.onnx`` from the OpenCV model zoo)."""

    classes = ("face",)
    has_masks = False

    def __init__(self, model: Path, *, score_threshold: float = 0.5) -> None:
        import cv2

        if not Path(model).is_file():
            raise ModelError(f"detection.face_model {model} does not exist (YuNet ONNX file)")
        self._cv2 = cv2
        self._net = cv2.FaceDetectorYN.create(str(model), "", (320, 320), score_threshold)
        digest = hashlib.sha256(Path(model).read_bytes()).hexdigest()[:10]
        self.model_version = f"yunet@{digest}"

    def detect(self, images: list[np.ndarray]) -> list[Detection]:
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: np.ndarray) -> Detection:
        height, width = image.shape[:2]
        self._net.setInputSize((width, height))
        _, found = self._net.detect(self._cv2.cvtColor(image, self._cv2.COLOR_RGB2BGR))
        rows = np.zeros((0, 15), np.float32) if found is None else found.astype(np.float32)
        boxes = np.column_stack([rows[:, :2], rows[:, :2] + rows[:, 2:4]]).astype(np.float32)
        return Detection(
            boxes.reshape(-1, 4),
            ("face",) * len(rows),
            rows[:, 14].copy(),
            self.model_version,
            width,
            height,
        )
