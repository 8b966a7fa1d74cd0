"""Detect many images once: cached results first, the detector only for new content."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from winnow.detection.base import Detection, Detector
from winnow.store.detections import DetectionStore


def detect_cached(
    detector: Detector,
    shas: Sequence[str],
    load: Callable[[str], np.ndarray],
    cache: DetectionStore,
    *,
    batch_size: int = 4,
) -> dict[str, Detection]:
    """Detections for every content sha256 in ``shas``; ``load(sha)`` gives RGB uint8 pixels.

    Results are stored as each batch finishes, so an interrupted run resumes where it was.
    ``load`` may raise :class:`~winnow.errors.ImageError`; that content is left out.
    """
    from winnow.errors import ImageError

    unique = list(dict.fromkeys(shas))
    found = cache.get(unique, detector.model_version)
    todo = [sha for sha in unique if sha not in found]
    for start in range(0, len(todo), batch_size):
        batch, pixels = [], []
        for sha in todo[start : start + batch_size]:
            try:
                pixels.append(load(sha))
                batch.append(sha)
            except ImageError:
                continue
        if not batch:
            continue
        fresh = dict(zip(batch, detector.detect(pixels), strict=True))
        cache.put(fresh)
        found.update(fresh)
    return found


def pixel_loader(
    read: Callable[[str], bytes], url_of: Mapping[str, str], *, max_pixels: int
) -> Callable[[str], np.ndarray]:
    """``load(sha)`` for :func:`detect_cached`: read the content's address, decode it within
    the pixel limit, return RGB uint8 pixels (ImageError propagates: that content is skipped)."""
    from winnow.imageio import decode_image

    def load(sha: str) -> np.ndarray:
        decoded = decode_image(read(url_of[sha]), url_of[sha], max_pixels=max_pixels)
        return np.asarray(decoded.image.convert("RGB"))

    return load
