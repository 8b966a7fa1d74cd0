"""Detections cached per (content, model version) in the feature store's SQLite file.

A table of its own (``detections``) beside the feature store's tables, so detecting an image
twice with the same model costs one lookup, and a new model version simply adds rows. Masks
are bit-packed and zlib-compressed: a person mask at 640x480 is a few hundred bytes.
"""

from __future__ import annotations

import json
import time
import zlib

import numpy as np

from winnow.detection.base import Detection
from winnow.store.connection import SideTable, chunks

_SCHEMA = """
CREATE TABLE IF NOT EXISTS detections (
    sha256 TEXT NOT NULL, model_version TEXT NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL, labels TEXT NOT NULL, boxes BLOB NOT NULL, scores BLOB NOT NULL,
    masks BLOB, computed_at REAL NOT NULL, PRIMARY KEY (sha256, model_version)
);
"""


class DetectionStore(SideTable):
    """Open the ``detections`` table in the SQLite file at ``path`` (the feature store's)."""

    SCHEMA = _SCHEMA
    WHAT = "detection cache"

    def get(self, shas: list[str], model_version: str) -> dict[str, Detection]:
        """The cached detections of ``shas`` by this model; absent shas are not in the result."""
        found: dict[str, Detection] = {}
        for chunk in chunks(shas):
            marks = ",".join("?" * len(chunk))
            with self._lock:
                rows = self._db.execute(
                    "SELECT sha256, width, height, labels, boxes, scores, masks FROM detections"
                    f" WHERE model_version = ? AND sha256 IN ({marks})",
                    [model_version, *chunk],
                ).fetchall()
            for sha, width, height, labels, boxes, scores, masks in rows:
                names = tuple(json.loads(labels))
                found[sha] = Detection(
                    np.frombuffer(boxes, np.float32).reshape(-1, 4).copy(),
                    names,
                    np.frombuffer(scores, np.float32).copy(),
                    model_version,
                    width,
                    height,
                    _unpack_masks(masks, len(names), height, width),
                )
        return found

    def put(self, items: dict[str, Detection]) -> None:
        """Store (or replace) detections by content sha256."""
        rows = [
            (
                sha,
                d.model_version,
                d.width,
                d.height,
                json.dumps(list(d.labels)),
                d.boxes.astype(np.float32).tobytes(),
                d.scores.astype(np.float32).tobytes(),
                _pack_masks(d.masks),
                time.time(),
            )
            for sha, d in items.items()
        ]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO detections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )


def _pack_masks(masks: np.ndarray | None) -> bytes | None:
    if masks is None:
        return None
    return zlib.compress(np.packbits(masks.astype(bool), axis=None).tobytes())


def _unpack_masks(blob: bytes | None, n: int, height: int, width: int) -> np.ndarray | None:
    if blob is None:
        return None
    bits = np.unpackbits(np.frombuffer(zlib.decompress(blob), np.uint8))
    return bits[: n * height * width].reshape(n, height, width).astype(bool)
