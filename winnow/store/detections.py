"""Detections cached per (content, model version) in the feature store's SQLite file.

A table of its own (``detections``) beside the feature store's tables, so detecting an image
twice with the same model costs one lookup, and a new model version simply adds rows. Masks
are bit-packed and zlib-compressed: a person mask at 640x480 is a few hundred bytes.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import zlib
from pathlib import Path

import numpy as np

from winnow.detection.base import Detection
from winnow.errors import StoreError
from winnow.store.connection import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS detections (
    sha256 TEXT NOT NULL, model_version TEXT NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL, labels TEXT NOT NULL, boxes BLOB NOT NULL, scores BLOB NOT NULL,
    masks BLOB, computed_at REAL NOT NULL, PRIMARY KEY (sha256, model_version)
);
"""


class DetectionStore:
    """Open the ``detections`` table in the SQLite file at ``path`` (the feature store's)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = connect(str(self.path))
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            with self._db:
                self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the detection cache in {self.path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> DetectionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, shas: list[str], model_version: str) -> dict[str, Detection]:
        """The cached detections of ``shas`` by this model; absent shas are not in the result."""
        found: dict[str, Detection] = {}
        for start in range(0, len(shas), 900):
            chunk = shas[start : start + 900]
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
