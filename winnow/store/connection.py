"""How every table in the store's SQLite file is opened and queried in bounded chunks."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from winnow.errors import StoreError

# SQLite's default limit on host parameters is 999: keys go into IN (...) this many at a time.
CHUNK = 900


def connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    """A connection that waits up to a minute for another writer (several processes share
    the file), usable from any thread; :class:`StoreError` when it cannot be opened."""
    try:
        db = sqlite3.connect(target, uri=uri, timeout=60, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=60000")
        return db
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open feature store {target}: {exc}") from exc


def chunks(items: list[str], size: int = CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
