"""Zero-shot predictors: class probabilities for images from class names alone.

A predictor names the per-image vector it needs (``feature_model``, cached in the feature
store by content hash), turns one control's classes into a *head* once per label config,
and maps cached vectors to probabilities. Which one runs follows ``embedding.kind``:
``clip`` -> :class:`ClipZeroShot`, ``backbone`` -> :class:`ImageNetZeroShot`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from winnow.labelstudio.controls.choices import ChoicesControl
from winnow.models.embedder import Embedder

if TYPE_CHECKING:
    from winnow.config import Settings


class ZeroShotPredictor(Protocol):
    name: str  # first part of the model version: "clip", "imagenet"
    feature_model: Embedder  # the per-image vector cached in the feature store

    def describe(self) -> dict[str, Any]:
        """What, besides the classes, changes predictions (hashed into the model version)."""
        ...

    def class_head(self, control: ChoicesControl) -> Any:
        """Precomputed per-control state (text embeddings, class index lists)."""
        ...

    def probabilities(self, features: np.ndarray, head: Any, *, multiple: bool) -> np.ndarray:
        """``(N, D)`` cached vectors -> ``(N, K)`` class probabilities in [0, 1]."""
        ...

    def warnings(self, head: Any) -> list[str]:
        """Things a user should know about a head (classes that map to nothing, ...)."""
        ...


def make_predictor(settings: Settings) -> ZeroShotPredictor:
    """Load the model ``settings.embedding`` names; raises ModelError when it cannot."""
    if settings.embedding.kind == "clip":
        from winnow.models.clip import ClipEmbedder
        from winnow.zeroshot.clip import ClipZeroShot

        return ClipZeroShot(ClipEmbedder(settings.embedding), settings.backend.prompt_templates)
    from winnow.models.backbone import BackboneEmbedder
    from winnow.zeroshot.imagenet import ImageNetZeroShot

    return ImageNetZeroShot(BackboneEmbedder(settings.embedding))
