"""Per-content measurements that the audit derives from pixels, cached in the store's file.

Why: the feature store keeps what extraction measures, but some checks read the pixels again
for the files they concern (the duplicate keeper decodes each cluster member at native size;
the geometric check matches candidate pairs). Those results depend only on the contents and
on the measuring code, so a table keyed by ``(key, kind, version)`` turns a repeated audit's
re-reads into one lookup. The key is a content's sha256, or two joined for a pair. A new
``version`` of a measurement simply adds rows; old rows are never read by the new code.
Values are small JSON objects: the cache stores numbers, it does not know their meaning.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from winnow.errors import StoreError
from winnow.store.connection import SideTable, chunks

_SCHEMA = """
CREATE TABLE IF NOT EXISTS measures (
    key TEXT NOT NULL, kind TEXT NOT NULL, version TEXT NOT NULL, value TEXT NOT NULL,
    computed_at REAL NOT NULL, PRIMARY KEY (key, kind, version)
);
"""


class MeasureCache(SideTable):
    """The ``measures`` table in the SQLite file at ``path`` (the feature store's).
    Thread-safe: one connection behind a lock."""

    SCHEMA = _SCHEMA
    WHAT = "measurement cache"

    def get(self, kind: str, version: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The cached values of ``keys``; absent (or unparsable) ones are not in the result."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunks(keys):
            marks = ",".join("?" * len(chunk))
            try:
                with self._lock:
                    rows = self._db.execute(
                        "SELECT key, value FROM measures"
                        f" WHERE kind = ? AND version = ? AND key IN ({marks})",
                        [kind, version, *chunk],
                    ).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot read the measurement cache in {self.path}: {exc}"
                ) from exc
            for key, value in rows:
                try:
                    parsed = json.loads(value)
                except ValueError:
                    continue  # a damaged row is measured again, not trusted
                if isinstance(parsed, dict):
                    found[key] = parsed
        return found

    def put(self, kind: str, version: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Store (or replace) one value per key, in one transaction."""
        now = time.time()
        rows = [(key, kind, version, json.dumps(dict(v)), now) for key, v in values.items()]
        try:
            with self._lock, self._db:
                self._db.executemany("INSERT OR REPLACE INTO measures VALUES (?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write the measurement cache in {self.path}: {exc}") from exc
