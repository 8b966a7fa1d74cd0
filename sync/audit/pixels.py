"""Grayscale working copies for the duplicate audit's geometric check, read on demand.

The feature store keeps measurements, not pixels, so a candidate pair's images are read again
from a source the store knows for that content (the same reader and policy as extraction:
roots, SSRF guard, byte and pixel limits) and decoded small: JPEG draft mode straight to about
``size`` pixels. Only items that reach the verification step are read, once each.
"""

from __future__ import annotations

import io
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from analysis.resolution import ResolutionSignal, resolution_signal
from winnow.config import Settings
from winnow.errors import ImageError
from winnow.features.measure import make_thumbnail
from winnow.imageio import ImageReader, decode_image
from winnow.store import FeatureStore


class SourcePixels:
    """``sha256 -> uint8 (H, W)`` grayscale working copy with a long side of ``size`` px, or
    None when no known source of that content can be read now. Callable, for AuditOptions."""

    def __init__(self, settings: Settings, *, size: int, trusted_roots: Sequence[Path] = ()):
        self.settings = settings
        self.size = size
        self.trusted_roots = tuple(trusted_roots)
        self._uris: dict[str, list[str]] | None = None
        self._lock = threading.Lock()
        self._reader: ImageReader | None = None

    def __call__(self, sha256: str) -> np.ndarray | None:
        for uri in self._sources().get(sha256, []):
            try:
                data = self._open().read(uri)
                decoded = decode_image(
                    data, uri, max_pixels=self.settings.io.max_pixels, min_side=self.size, gray=True
                )
            except ImageError:
                continue
            return np.asarray(make_thumbnail(decoded.image, self.size))
        return None

    def resolution(self, sha256: str) -> ResolutionSignal | None:
        """The keeper signal of that content, decoded at native size (only cluster members
        are measured, so the full decode is paid for a few files), or None when unreadable."""
        for uri in self._sources().get(sha256, []):
            try:
                data = self._open().read(uri)
                decoded = decode_image(data, uri, max_pixels=self.settings.io.max_pixels, gray=True)
                with Image.open(io.BytesIO(data)) as header:
                    tables = getattr(header, "quantization", None)
                gray = np.asarray(decoded.image)
                return resolution_signal(gray, tables) if min(gray.shape) >= 16 else None
            except (ImageError, OSError, ValueError):
                continue
        return None

    def _sources(self) -> dict[str, list[str]]:
        with self._lock:  # the keeper's signals are measured on several threads
            return self._load_sources()

    def _load_sources(self) -> dict[str, list[str]]:
        if self._uris is None:
            self._uris = {}
            path = self.settings.store_path
            if path.exists():
                with FeatureStore(path, readonly=True) as store:
                    frame = store.sources_frame()
                ok = frame["sha256"].notna() & frame["error_kind"].isna()
                for sha, uri in zip(frame["sha256"][ok], frame["uri"][ok], strict=True):
                    self._uris.setdefault(sha, []).append(uri)
        return self._uris

    def _open(self) -> ImageReader:
        with self._lock:
            if self._reader is None:
                s = self.settings
                reader = ImageReader(s.io, s.label_studio, s.s3, trusted_roots=self.trusted_roots)
                weakref.finalize(self, reader.close)
                self._reader = reader
            return self._reader
