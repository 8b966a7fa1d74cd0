"""Small JPEG previews of indexed images, for the web UI's grids and galleries.

The index stores each image's address, not its pixels; the API reads it through the same
guarded reader as every other job (SSRF checks, the Label Studio key only for Label
Studio, local roots), so the UI never needs Label Studio credentials of its own.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

from PIL import Image

from serve.errors import ApiError
from winnow.config import Settings
from winnow.errors import ImageError
from winnow.imageio import ImageReader, decode_image

THUMB_SIDE = 192
_CACHE_SIZE = 512


class Thumbnails:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._reader: ImageReader | None = None
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str | None, key: str) -> bytes:
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        if not url:
            raise ApiError(404, "no_image", "this point has no image address")
        data = self._make(url)
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return data

    def _make(self, url: str) -> bytes:
        if self._reader is None:
            s = self.settings
            self._reader = ImageReader(s.io, s.label_studio, s.s3)
        try:
            raw = self._reader.read(url)
            image = decode_image(
                raw, url, max_pixels=self.settings.io.max_pixels, min_side=THUMB_SIDE
            ).image
        except ImageError as exc:
            raise ApiError(502, exc.kind, f"cannot read the image: {exc.reason}") from exc
        image.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BILINEAR)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=85)
        return out.getvalue()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
