"""How every table in the store's SQLite file is opened and queried in bounded chunks."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Self

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


class SideTable:
    """A table of its own in the store's SQLite file (``path``), beside the feature store's:
    created when absent, in WAL mode, one connection behind ``_lock`` for every thread.
    Subclasses set ``SCHEMA`` (CREATE ... IF NOT EXISTS) and ``WHAT`` (for errors)."""

    SCHEMA = ""
    WHAT = "table"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = connect(str(self.path))
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            with self._db:
                self._db.executescript(self.SCHEMA)
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"cannot open the {self.WHAT} in {self.path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
