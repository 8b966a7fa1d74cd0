"""CLIP zero-shot: cosine similarity of image and prompt embeddings, as a softmax.

Each class's text embedding averages its prompts over a template ensemble ("a photo of a
{}.", ...) and is re-normalised, as in CLIP's own ImageNet evaluation. Logits are the
model's trained ``logit_scale`` times the cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from winnow.labelstudio.controls.choices import ChoicesControl
from winnow.models.clip import ClipEmbedder


class ClipZeroShot:
    name = "clip"

    def __init__(self, embedder: ClipEmbedder, templates: Sequence[str]) -> None:
        if not templates:
            raise ValueError("need at least one prompt template")
        self.feature_model = embedder
        self.templates = list(templates)

    def describe(self) -> dict[str, Any]:
        return {"model": self.feature_model.model_id, "templates": self.templates}

    def class_head(self, control: ChoicesControl) -> np.ndarray:
        """float32 ``(K, D)`` unit rows, one per class."""
        texts, owners = [], []
        for k, cls in enumerate(control.classes):
            for prompt in cls.prompts:
                texts += [template.format(prompt) for template in self.templates]
                owners += [k] * len(self.templates)
        embedded = self.feature_model.embed_texts(texts)
        head = np.zeros((len(control.classes), embedded.shape[1]), dtype=np.float32)
        np.add.at(head, np.asarray(owners), embedded)
        return head / np.linalg.norm(head, axis=1, keepdims=True).clip(min=1e-12)

    def probabilities(
        self, features: np.ndarray, head: np.ndarray, *, multiple: bool
    ) -> np.ndarray:
        """Softmax over the classes (also for multiple choice, then thresholded)."""
        logits = self.feature_model.logit_scale * (features @ head.T)
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)

    def warnings(self, head: Any) -> list[str]:
        return []
