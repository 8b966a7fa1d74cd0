"""Decoding task images for the networks: shared by training, evaluation and prediction, so a
trained network sees images decoded the same way it was trained on."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PIL import Image

from winnow.errors import ImageError
from winnow.imageio import decode_image

ReadFn = Callable[[str], bytes]


def load_images(
    sources: Sequence[str], read: ReadFn, *, max_pixels: int, min_side: int
) -> tuple[dict[int, Image.Image], dict[int, str]]:
    """Decoded RGB images by position, and ``"kind: reason"`` for the ones that failed."""
    images, errors = {}, {}
    for i, source in enumerate(sources):
        try:
            decoded = decode_image(read(source), source, max_pixels=max_pixels, min_side=min_side)
            images[i] = decoded.image.convert("RGB")
        except ImageError as exc:
            errors[i] = f"{exc.kind}: {exc.reason}"
    return images, errors
