"""Image embedders: the offline ImageNet backbone and CLIP (open_clip).

``BackboneEmbedder`` and ``ClipEmbedder`` are imported on first access, so decode workers that
only need :func:`prepare_image` never pay for importing torch, timm or open_clip.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from winnow.models.embedder import Embedder, InputSpec, make_embedder, prepare_image

if TYPE_CHECKING:
    from winnow.models.backbone import BackboneEmbedder
    from winnow.models.clip import ClipEmbedder

__all__ = [
    "BackboneEmbedder",
    "ClipEmbedder",
    "Embedder",
    "InputSpec",
    "make_embedder",
    "prepare_image",
]

_LAZY = {
    "BackboneEmbedder": "winnow.models.backbone",
    "ClipEmbedder": "winnow.models.clip",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
