"""Integrity checks that need the file name as well as the bytes."""

from __future__ import annotations

from pathlib import PurePosixPath

import numpy as np
import pandas as pd

_EXTENSION_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".jfif": "JPEG",
    ".png": "PNG",
    ".gif": "GIF",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}


def wrong_extension_mask(uris: pd.Series, formats: pd.Series) -> np.ndarray:
    """True where the file extension names a different format than the bytes hold."""
    expected = uris.map(lambda u: _EXTENSION_FORMATS.get(PurePosixPath(str(u)).suffix.lower()))
    return (expected.notna() & formats.notna() & (expected != formats)).to_numpy()
