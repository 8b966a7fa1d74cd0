"""A first-look audit over the feature store's tables: what is broken, what is repeated.

Pure: two DataFrames in (``images`` keyed by sha256, ``sources`` mapping files to sha256),
a summary out. The full audits (quality thresholds, sub-quadratic near-duplicate search,
label issues) build on the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

_EXTENSION_FORMATS = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".png": "PNG",
    ".gif": "GIF", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP",
}  # fmt: skip


@dataclass
class Overview:
    n_sources: int
    n_images: int  # distinct decodable contents
    labels: dict[str, int]
    splits: dict[str, int]
    failures: dict[str, int]  # error kind -> number of sources
    wrong_extension: int
    exif_rotated: int
    with_alpha: int
    modes: dict[str, int]
    exact_duplicate_groups: int
    exact_duplicate_extra_files: int  # files beyond the first in each group
    near_duplicate_pairs: int
    near_duplicate_threshold: int
    notes: list[str] = field(default_factory=list)


def wrong_extension_mask(uris: pd.Series, formats: pd.Series) -> np.ndarray:
    """True where the file extension names a different format than the bytes hold."""
    expected = uris.map(lambda u: _EXTENSION_FORMATS.get(PurePosixPath(str(u)).suffix.lower()))
    return (expected.notna() & formats.notna() & (expected != formats)).to_numpy()


def hamming_pairs(hashes: np.ndarray, *, threshold: int, block: int = 2048) -> np.ndarray:
    """Index pairs ``(i, j)``, i < j, of int64 hashes within ``threshold`` bits. Shape (P, 2).

    Blocked all-pairs popcount: fine to tens of thousands of hashes.
    """
    if threshold < 0 or threshold > 64:
        raise ValueError(f"threshold must be in [0, 64], got {threshold}")
    h = np.ascontiguousarray(hashes, dtype=np.int64).view(np.uint64)
    out = []
    for start in range(0, len(h), block):
        xor = h[start : start + block, None] ^ h[None, :]
        dist = np.bitwise_count(xor)
        i, j = np.nonzero(dist <= threshold)
        i += start
        keep = i < j
        out.append(np.stack([i[keep], j[keep]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def overview(images: pd.DataFrame, sources: pd.DataFrame, *, phash_threshold: int = 4) -> Overview:
    """Summarise integrity and repetition for the sources listed in ``sources``."""
    merged = sources.merge(images, on="sha256", how="left", suffixes=("_source", ""))
    kind = merged["error_kind_source"].fillna(merged["error_kind"])
    ok = merged[kind.isna()]
    contents = ok.drop_duplicates("sha256")
    groups = ok.groupby("sha256").size()
    pairs = hamming_pairs(contents["phash"].to_numpy(), threshold=phash_threshold)
    return Overview(
        n_sources=len(merged),
        n_images=len(contents),
        labels=_counts(ok["label"]),
        splits=_counts(ok["split"]),
        failures=_counts(kind.dropna()),
        wrong_extension=int(wrong_extension_mask(ok["uri"], ok["format"]).sum()),
        exif_rotated=int((contents["exif_orientation"].fillna(1) > 1).sum()),
        with_alpha=int(contents["has_alpha"].fillna(0).astype(bool).sum()),
        modes=_counts(contents["mode"]),
        exact_duplicate_groups=int((groups > 1).sum()),
        exact_duplicate_extra_files=int((groups[groups > 1] - 1).sum()),
        near_duplicate_pairs=len(pairs),
        near_duplicate_threshold=phash_threshold,
    )


def _counts(series: pd.Series) -> dict[str, int]:
    return {str(k): int(v) for k, v in series.dropna().value_counts().items()}
