"""A read-only Qdrant Edge index that follows the published version, for long-lived readers.

The API opens the index once and serves for days, while `winnow index` publishes new
versions beside it (:mod:`winnow.index.versions`). A watcher thread stats the pointer file
every ``poll_s``; when it moves, the new version is opened in that thread (requests never wait
for it) and swapped in between two calls. A call that started on the old version finishes
on it: each call holds its version, and the old one is closed when its last call returns.
Every version open here is flocked for reading, so a build never prunes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from winnow.config import IndexSettings
from winnow.errors import WinnowError
from winnow.index.base import Hit, IndexPoint, SearchFilter
from winnow.index.edge import EdgeIndex
from winnow.index.versions import VersionStore, hold_for_reading, release

log = logging.getLogger(__name__)
T = TypeVar("T")


class ReadOnlyIndexError(WinnowError):
    """A write was sent to the live index; `winnow index` builds and publishes versions."""


@dataclass
class _Version:
    path: Path
    index: EdgeIndex
    lock: int | None
    calls: int = 0
    retired: bool = False
    closing: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        """Close once: the last call and ``LiveIndex.close`` may both get here."""
        with self.closing:
            lock, self.lock = self.lock, None
        try:
            self.index.close()
        finally:
            release(lock)


class LiveIndex:
    """A VectorIndex over the current version of an Edge collection, swapped when published."""

    def __init__(
        self, store: VersionStore, settings: IndexSettings | None = None, *, poll_s: float = 1.0
    ) -> None:
        self.store, self.settings = store, settings or IndexSettings()
        self._guard = threading.Lock()  # the current version and the call counts
        self._refreshing = threading.Lock()  # one refresh at a time: a version opens once
        self._stamp = store.stamp()
        self._version = self._open(store.current())
        self._stop = threading.Event()
        self._watcher = threading.Thread(
            target=self._watch, args=(poll_s,), name="winnow-index-watch", daemon=True
        )
        self._watcher.start()

    @property
    def version(self) -> str:
        """The served version's folder name (the collection's own name for version 0)."""
        return self._version.path.name

    @property
    def dim(self) -> int | None:
        return self._version.index.dim

    # -- swapping ------------------------------------------------------------------------
    def _open(self, path: Path) -> _Version:
        lock = hold_for_reading(path)
        try:
            return _Version(path, EdgeIndex(path, self.settings), lock)
        except BaseException:
            release(lock)
            raise

    def refresh(self) -> bool:
        """Swap in the published version if the pointer moved; True if it swapped. A version
        that cannot be opened raises; the watcher logs it, retries at the next poll, and the
        old version keeps serving."""
        with self._refreshing:
            return self._swap()

    def _swap(self) -> bool:
        stamp = self.store.stamp()
        if stamp == self._stamp:
            return False
        path = self.store.current()
        if path == self._version.path:
            self._stamp = stamp
            return False
        fresh = self._open(path)
        with self._guard:
            old, self._version, self._stamp = self._version, fresh, stamp
            old.retired = True
            idle = old.calls == 0
        if idle:
            old.close()
        log.info("index version %s now serves (was %s)", fresh.path.name, old.path.name)
        return True

    def _watch(self, poll_s: float) -> None:
        while not self._stop.wait(poll_s):
            try:
                self.refresh()
            except Exception:  # keep serving the old version; try again at the next poll
                log.warning("could not open the published index version", exc_info=True)

    def _enter(self) -> _Version:
        with self._guard:
            version = self._version
            version.calls += 1
            return version

    def _leave(self, version: _Version) -> None:
        with self._guard:
            version.calls -= 1
            last = version.retired and version.calls == 0
        if last:  # closing flushes (a few hundred ms): not on this request's time
            threading.Thread(target=version.close, name="winnow-index-close").start()

    def _call(self, fn: Callable[[EdgeIndex], T]) -> T:
        version = self._enter()
        try:
            return fn(version.index)
        finally:
            self._leave(version)

    # -- reading -------------------------------------------------------------------------
    def search(
        self, vector: np.ndarray, k: int = 10, filter: SearchFilter | None = None
    ) -> list[Hit]:
        return self._call(lambda index: index.search(vector, k, filter))

    def recommend(
        self,
        positive_ids: Sequence[str],
        negative_ids: Sequence[str] = (),
        k: int = 10,
        filter: SearchFilter | None = None,
    ) -> list[Hit]:
        return self._call(lambda index: index.recommend(positive_ids, negative_ids, k, filter))

    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[IndexPoint]:
        return self._call(lambda index: index.retrieve(ids, with_vectors))

    def points(
        self, filter: SearchFilter | None = None, *, with_vectors: bool = False
    ) -> Iterator[IndexPoint]:
        """Iterates one version to the end, even if another is published meanwhile."""
        version = self._enter()
        try:
            yield from version.index.points(filter, with_vectors=with_vectors)
        finally:
            self._leave(version)

    def count(self, filter: SearchFilter | None = None) -> int:
        return self._call(lambda index: index.count(filter))

    # -- writing is the builder's job ----------------------------------------------------
    def _read_only(self, *_: Any, **__: Any) -> Any:
        raise ReadOnlyIndexError(
            "the served index is read-only: `winnow index` builds and publishes new versions"
        )

    ensure_collection = upsert = delete = optimize = _read_only

    def close(self) -> None:
        """Stop watching and close every version still open, in use or not."""
        self._stop.set()
        if self._watcher is not threading.current_thread():
            self._watcher.join(timeout=10)
        with self._guard:
            version, self._version.retired = self._version, True
        version.close()
