"""The content-addressed feature store: one SQLite file under the data directory.

Every image is identified by the sha256 of its bytes. ``images`` holds what depends only on
the content (metadata, hashes, quality measurements, or the reason it could not be decoded);
``embeddings`` holds one vector per (content, model); ``sources`` maps where content was found
(a path, URL or S3 key) to its sha256, with the size and mtime used to skip unchanged files.
The ML backend, the sync jobs and the API all read this same store, so nothing is computed
twice. SQLite in WAL mode lets worker processes read while the writer commits.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from winnow.errors import StoreError
from winnow.features.measure import ImageMeasurements
from winnow.store.connection import chunks, connect

SCHEMA_VERSION = 1
_MEASURE_COLUMNS = [f.name for f in fields(ImageMeasurements)]
_IMAGE_COLUMNS = [
    "sha256",
    "n_bytes",
    "format",
    "width",
    "height",
    "mode",
    "has_exif",
    "exif_orientation",
    "has_alpha",
    "n_frames",
    "error_kind",
    "error",
    *_MEASURE_COLUMNS,
    "computed_at",
]
_SOURCE_COLUMNS = [
    "uri",
    "sha256",
    "size",
    "mtime_ns",
    "label",
    "split",
    "error_kind",
    "error",
    "seen_at",
]

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    sha256 TEXT PRIMARY KEY, n_bytes INTEGER, format TEXT, width INTEGER, height INTEGER,
    mode TEXT, has_exif INTEGER, exif_orientation INTEGER, has_alpha INTEGER,
    n_frames INTEGER, error_kind TEXT, error TEXT,
    {
    ", ".join(
        f"{c} {'INTEGER' if c in ('phash', 'dhash', 'is_grayscale') else 'REAL'}"
        for c in _MEASURE_COLUMNS
    )
},
    computed_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sources (
    uri TEXT PRIMARY KEY, sha256 TEXT, size INTEGER, mtime_ns INTEGER, label TEXT,
    split TEXT, error_kind TEXT, error TEXT, seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sources_sha256 ON sources(sha256);
CREATE TABLE IF NOT EXISTS embeddings (
    sha256 TEXT NOT NULL, model_id TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (sha256, model_id)
);
"""


@dataclass(frozen=True)
class ImageRecord:
    """What the store keeps per content. ``error_kind`` is set when decoding failed."""

    sha256: str
    n_bytes: int
    format: str | None = None
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    has_exif: bool | None = None
    exif_orientation: int | None = None
    has_alpha: bool | None = None
    n_frames: int | None = None
    error_kind: str | None = None
    error: str | None = None
    measurements: ImageMeasurements | None = None

    def row(self) -> tuple[Any, ...]:
        m = self.measurements.as_dict() if self.measurements else {}
        base = [getattr(self, c) for c in _IMAGE_COLUMNS[:12]]
        return (*base, *(m.get(c) for c in _MEASURE_COLUMNS), time.time())


@dataclass(frozen=True)
class SourceRecord:
    """Where content was found. ``sha256`` is None when the bytes could not be read."""

    uri: str
    sha256: str | None
    size: int | None = None
    mtime_ns: int | None = None
    label: str | None = None
    split: str | None = None
    error_kind: str | None = None
    error: str | None = None

    def row(self) -> tuple[Any, ...]:
        return (*(getattr(self, c) for c in _SOURCE_COLUMNS[:-1]), time.time())


class FeatureStore:
    """Open (or create) the store at ``path``. Safe to open from several processes."""

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly:
            uri = f"file:{self.path}?mode=ro"
            self._db = connect(uri, uri=True)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = connect(str(self.path))
            self._db.execute("PRAGMA journal_mode=WAL")
            self._migrate()

    def _migrate(self) -> None:
        with self._db:
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
            elif int(row[0]) != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {row[0]}, this Winnow reads "
                    f"{SCHEMA_VERSION}; point WINNOW_DATA_DIR at a new directory"
                )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writes -------------------------------------------------------------------------
    def put_images(self, records: Iterable[ImageRecord]) -> None:
        marks = ",".join("?" * len(_IMAGE_COLUMNS))
        with self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO images VALUES ({marks})", [r.row() for r in records]
            )

    def put_sources(self, records: Iterable[SourceRecord]) -> None:
        marks = ",".join("?" * len(_SOURCE_COLUMNS))
        with self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO sources VALUES ({marks})", [r.row() for r in records]
            )

    def put_embeddings(self, model_id: str, shas: Sequence[str], vectors: np.ndarray) -> None:
        """Store float32 rows ``(N, D)`` for ``shas`` under ``model_id``."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(shas) != vectors.shape[0]:
            raise ValueError(f"need (N, D) vectors for {len(shas)} shas, got {vectors.shape}")
        dim = vectors.shape[1]
        rows = [(s, model_id, dim, v.tobytes()) for s, v in zip(shas, vectors, strict=True)]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?,?,?,?)", rows)

    def merge_from(self, other: Path | str) -> dict[str, int]:
        """Copy another store's rows into this one; returns the rows added per table.

        The route past one writer: nodes fill stores of their own, then one merge. Image and
        embedding rows depend only on the content's sha256 (and model), so an existing row is
        kept; a source keeps whichever sighting is newer.
        """
        other = Path(other)
        if other.resolve() == self.path.resolve():
            raise StoreError(f"cannot merge {other} into itself")
        try:
            with FeatureStore(other, readonly=True) as source:
                version = source._db.execute(
                    "SELECT value FROM meta WHERE key='schema_version'"
                ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"{other} is not a readable feature store: {exc}") from exc
        if version is None or int(version[0]) != SCHEMA_VERSION:
            raise StoreError(f"{other} is not a feature store of schema {SCHEMA_VERSION}")
        before = self.counts()
        self._db.execute("ATTACH DATABASE ? AS other", (str(other),))
        try:
            with self._db:
                self._db.execute("INSERT OR IGNORE INTO images SELECT * FROM other.images")
                self._db.execute("INSERT OR IGNORE INTO embeddings SELECT * FROM other.embeddings")
                self._db.execute(
                    "INSERT OR REPLACE INTO sources SELECT o.* FROM other.sources o "
                    "LEFT JOIN sources s ON s.uri = o.uri "
                    "WHERE s.uri IS NULL OR o.seen_at > s.seen_at"
                )
        finally:
            self._db.execute("DETACH DATABASE other")
        after = self.counts()
        return {
            "images": after["images"]
            + after["undecodable"]
            - before["images"]
            - before["undecodable"],
            "embeddings": after["embeddings"] - before["embeddings"],
            "sources": after["sources"] - before["sources"],
        }

    # --- reads --------------------------------------------------------------------------
    def known_images(self, shas: Iterable[str]) -> set[str]:
        return self._present("SELECT sha256 FROM images WHERE sha256 IN ({})", list(shas))

    def known_embeddings(self, shas: Iterable[str], model_id: str) -> set[str]:
        query = "SELECT sha256 FROM embeddings WHERE model_id=? AND sha256 IN ({})"
        return self._present(query, list(shas), model_id)

    def complete(self, shas: Iterable[str], model_id: str | None) -> set[str]:
        """Content needing no more work: measured (or known undecodable) and, when
        ``model_id`` is given, embedded with that model."""
        shas = list(shas)
        if model_id is None:
            return self.known_images(shas)
        query = (
            "SELECT i.sha256 FROM images i LEFT JOIN embeddings e"
            " ON e.sha256 = i.sha256 AND e.model_id = ?"
            " WHERE (i.error_kind IS NOT NULL OR e.sha256 IS NOT NULL) AND i.sha256 IN ({})"
        )
        return self._present(query, shas, model_id)

    def image_errors(self, shas: Iterable[str]) -> dict[str, tuple[str, str]]:
        """``sha256 -> (error_kind, error)`` for content known to be undecodable."""
        query = "SELECT sha256, error_kind, error FROM images WHERE error_kind IS NOT NULL"
        rows = self._select_in(query + " AND sha256 IN ({})", list(shas))
        return {sha: (kind, err) for sha, kind, err in rows}

    def sources_by_uri(self, uris: Iterable[str]) -> dict[str, SourceRecord]:
        query = f"SELECT {','.join(_SOURCE_COLUMNS[:-1])} FROM sources WHERE uri IN ({{}})"
        return {row[0]: SourceRecord(*row) for row in self._select_in(query, list(uris))}

    def images_frame(self) -> pd.DataFrame:
        """All image records, one row per content; hashes as int64."""
        return pd.read_sql_query("SELECT * FROM images", self._db)

    def sources_frame(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM sources", self._db)

    def embeddings(
        self, model_id: str, shas: Sequence[str] | None = None
    ) -> tuple[list[str], np.ndarray]:
        """``(shas, float32 (N, D))`` for ``model_id``, in the order of ``shas`` if given
        (missing ones are left out of both)."""
        if shas is None:
            rows = self._db.execute(
                "SELECT sha256, vector FROM embeddings WHERE model_id=? ORDER BY sha256",
                (model_id,),
            ).fetchall()
        else:
            query = "SELECT sha256, vector FROM embeddings WHERE model_id=? AND sha256 IN ({})"
            found = dict(self._select_in(query, list(shas), model_id))
            rows = [(s, found[s]) for s in shas if s in found]
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
        return [r[0] for r in rows], matrix.reshape(len(rows), -1).copy()

    def embedding_models(self) -> list[str]:
        """The model ids that have embeddings here."""
        rows = self._db.execute("SELECT DISTINCT model_id FROM embeddings ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    def counts(self) -> dict[str, int]:
        queries = {
            "images": "SELECT COUNT(*) FROM images WHERE error_kind IS NULL",
            "undecodable": "SELECT COUNT(*) FROM images WHERE error_kind IS NOT NULL",
            "sources": "SELECT COUNT(*) FROM sources",
            "embeddings": "SELECT COUNT(*) FROM embeddings",
        }
        return {name: self._db.execute(q).fetchone()[0] for name, q in queries.items()}

    def _select_in(self, query: str, keys: list[str], *params: Any) -> list[tuple[Any, ...]]:
        """Run ``query`` (with one ``IN ({})`` slot) over ``keys`` in SQLite-sized chunks."""
        rows: list[tuple[Any, ...]] = []
        for chunk in chunks(keys):
            sql = query.format(",".join("?" * len(chunk)))
            rows += self._db.execute(sql, (*params, *chunk)).fetchall()
        return rows

    def _present(self, query: str, keys: list[str], *params: Any) -> set[str]:
        return {row[0] for row in self._select_in(query, keys, *params)}
