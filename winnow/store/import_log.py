"""The import log: where every imported image came from, per project, in the store's file.

One row per (project, source): the content's sha256, what happened to it (imported, or
skipped and why), the task it became, and its provenance (URL, source page, licence, author,
date, retrieval time). Exports and the dataset card read the sources and licences from here;
Label Studio task data carries the same facts, so either survives the loss of the other.
The table lives beside the feature store's tables in the same SQLite file but is its own
concern, created on first use.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import pandas as pd

from winnow.errors import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS import_log (
    project TEXT NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
    sha256 TEXT, reason TEXT, task_id INTEGER, labels TEXT, split TEXT, url TEXT,
    source_page TEXT, licence TEXT, author TEXT, date TEXT, retrieved_at REAL,
    imported_at REAL NOT NULL, PRIMARY KEY (project, source)
);
CREATE INDEX IF NOT EXISTS import_log_sha256 ON import_log(sha256);
"""


@dataclass(frozen=True)
class ImportEntry:
    """One source's fate in one project. ``status``: imported, duplicate or skipped."""

    project: str  # "<Label Studio URL>#<project id>"
    source: str  # a local path, URL or s3:// key, as given
    kind: str  # folder, url_list, s3
    status: str
    sha256: str | None = None
    reason: str | None = None
    task_id: int | None = None
    labels: str | None = None  # "|"-joined
    split: str | None = None
    url: str | None = None
    source_page: str | None = None
    licence: str | None = None
    author: str | None = None
    date: str | None = None
    retrieved_at: float | None = None
    imported_at: float = 0.0  # set on write when left at 0


_COLUMNS = [f.name for f in fields(ImportEntry)]


class ImportLog:
    """Open the log in the SQLite file at ``path`` (usually ``settings.store_path``)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=60)
            self._db.execute("PRAGMA busy_timeout=60000")
            with self._db:
                self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the import log in {self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ImportLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(self, entries: Iterable[ImportEntry]) -> int:
        """Insert or replace ``entries``; returns how many were written."""
        now = time.time()
        rows = [astuple(e)[:-1] + (e.imported_at or now,) for e in entries]
        marks = ",".join("?" * len(_COLUMNS))
        with self._db:
            self._db.executemany(f"INSERT OR REPLACE INTO import_log VALUES ({marks})", rows)
        return len(rows)

    def entries(self, project: str | None = None) -> list[ImportEntry]:
        query = f"SELECT {','.join(_COLUMNS)} FROM import_log"
        params: tuple[str, ...] = ()
        if project is not None:
            query, params = query + " WHERE project = ?", (project,)
        rows = self._db.execute(query + " ORDER BY project, source", params).fetchall()
        return [ImportEntry(*row) for row in rows]

    def provenance(self, shas: Iterable[str]) -> dict[str, list[ImportEntry]]:
        """Imported entries per sha256: every place the content was imported from."""
        wanted = list(dict.fromkeys(shas))
        out: dict[str, list[ImportEntry]] = {}
        query = f"SELECT {','.join(_COLUMNS)} FROM import_log WHERE status = 'imported' AND "
        for start in range(0, len(wanted), 900):
            chunk = wanted[start : start + 900]
            sql = query + f"sha256 IN ({','.join('?' * len(chunk))})"
            for row in self._db.execute(sql, chunk):
                entry = ImportEntry(*row)
                out.setdefault(entry.sha256 or "", []).append(entry)
        return out

    def frame(self) -> pd.DataFrame:
        return pd.read_sql_query("SELECT * FROM import_log", self._db)
