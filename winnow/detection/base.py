"""What every detector returns, and the one method it must have.

Boxes are ``x1, y1, x2, y2`` in pixels of the image as displayed (EXIF orientation applied),
labels are class names (COCO's for the general detectors, ``face`` for face detectors), so
the audits and the ML backend never see a backend's own class indices.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Detection:
    """The objects found in one image, most confident first."""

    boxes: np.ndarray  # (N, 4) float32 xyxy in pixels
    labels: tuple[str, ...]
    scores: np.ndarray  # (N,) float32 in [0, 1]
    model_version: str
    width: int  # the image's size, so boxes can become percentages or be checked for bounds
    height: int
    masks: np.ndarray | None = field(default=None)  # (N, H, W) bool, when the model has masks

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.boxes.shape != (n, 4) or self.scores.shape != (n,):
            raise ValueError(f"{n} labels but boxes {self.boxes.shape}, scores {self.scores.shape}")
        if self.masks is not None and self.masks.shape[0] != n:
            raise ValueError(f"{n} labels but {self.masks.shape[0]} masks")

    def __len__(self) -> int:
        return len(self.labels)

    def confident(self, min_score: float) -> Detection:
        """Only the detections scoring at least ``min_score``."""
        keep = np.flatnonzero(self.scores >= min_score)
        return Detection(
            boxes=self.boxes[keep],
            labels=tuple(self.labels[i] for i in keep),
            scores=self.scores[keep],
            model_version=self.model_version,
            width=self.width,
            height=self.height,
            masks=None if self.masks is None else self.masks[keep],
        )

    def counts(self) -> dict[str, int]:
        """Objects per class, e.g. ``{"person": 3}``."""
        return dict(Counter(self.labels))


def empty_detection(model_version: str, width: int, height: int) -> Detection:
    return Detection(
        np.zeros((0, 4), np.float32), (), np.zeros(0, np.float32), model_version, width, height
    )


@runtime_checkable
class Detector(Protocol):
    """A detector: RGB uint8 images ``(H, W, 3)`` in, one :class:`Detection` each out."""

    model_version: str
    classes: tuple[str, ...]  # every name it can return
    has_masks: bool

    def detect(self, images: list[np.ndarray]) -> list[Detection]: ...
