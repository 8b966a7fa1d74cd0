"""CLIP embeddings (open_clip): images and texts in one space, for zero-shot and text search.

No CLIP weights install offline, so :class:`ClipEmbedder` loads real weights or raises
:class:`WeightsUnavailableError` (see :mod:`winnow.models.clip_weights`). Tests and callers
holding a model already use :meth:`ClipEmbedder.from_model`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import open_clip
import torch
import torch.nn.functional as F

from winnow.config import EmbeddingSettings
from winnow.errors import ModelError
from winnow.models.clip_weights import load_clip
from winnow.models.embedder import InputSpec
from winnow.models.torch_base import TorchImageEmbedder


class ClipEmbedder(TorchImageEmbedder):
    """An open_clip model with its own input size and normalisation."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        model, tokenizer, model_id = load_clip(settings)
        self._init_clip(model, tokenizer, model_id, settings.batch_size, settings.threads)

    @classmethod
    def from_model(
        cls,
        model: torch.nn.Module,
        tokenizer: Any,
        *,
        model_id: str,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> ClipEmbedder:
        """Wrap an already-built open_clip model (for example a small one in tests)."""
        embedder = cls.__new__(cls)
        embedder._init_clip(model, tokenizer, model_id, batch_size, threads)
        return embedder

    def _init_clip(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        model_id: str,
        batch_size: int,
        threads: int | None,
    ) -> None:
        cfg = open_clip.get_model_preprocess_cfg(model)
        self.tokenizer = tokenizer
        super().__init__(
            model,
            model_id=model_id,
            dim=_output_dim(model, tokenizer),
            input_spec=_input_spec(cfg),
            mean_px=[255.0 * v for v in cfg["mean"]],
            std_px=[255.0 * v for v in cfg["std"]],
            batch_size=batch_size,
            threads=threads,
        )

    @property
    def logit_scale(self) -> float:
        """Temperature the model was trained with: logits = scale * cosine similarity."""
        return float(self.model.logit_scale.detach().exp())

    def encode_tensor(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(x)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> float32 ``(N, dim)`` unit rows, comparable with image embeddings."""
        if isinstance(texts, str):
            raise TypeError("embed_texts takes a sequence of strings, not one string")
        chunks = [np.zeros((0, self.dim), np.float32)]
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                tokens = self.tokenizer(list(texts[start : start + self.batch_size]))
                features = self.model.encode_text(tokens).float()
                chunks.append(F.normalize(features, dim=-1).numpy())
        return np.concatenate(chunks)


def _input_spec(cfg: dict) -> InputSpec:
    """open_clip's preprocessing as an InputSpec ('shortest' resize + crop = center_crop)."""
    size = cfg["size"]
    if isinstance(size, (tuple, list)):
        if len(set(size)) != 1:
            raise ModelError(f"non-square CLIP input size {tuple(size)} is not supported")
        size = size[0]
    return InputSpec(int(size), "squash" if cfg.get("resize_mode") == "squash" else "center_crop")


def _output_dim(model: torch.nn.Module, tokenizer: Any) -> int:
    """Embedding width, read from one tiny text forward pass (works for every tower type)."""
    with torch.inference_mode():
        return int(model.eval().encode_text(tokenizer(["a"])).shape[-1])
