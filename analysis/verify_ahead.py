"""Geometric checks of near-duplicate candidates run ahead on threads, decided in order.

Why: the verified search (:mod:`analysis.duplicates_verify`) decides candidates from the most
similar down, and skips a candidate whose items are already grouped, so each decision depends
on the earlier ones. Matching one pair (read and decode the working copies, ORB, RANSAC) is
pure and OpenCV and the decoders release the GIL, so matches can run early on a thread pool
while the decisions stay strictly in order: kept pairs, evidence and counts are those of one
thread. What to start early is a guess that every candidate in flight will be kept: a
candidate they would already join is not started (in dense clusters most candidates are), and
one the guess left out is matched when its turn comes. A wrong guess costs time, never answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Generic, TypeVar

import numpy as np
from scipy.cluster.hierarchy import DisjointSet

T = TypeVar("T")
Judged = tuple[Any, bool]  # (decision, verified); a decision of False rejects the candidate


class Once(Generic[T]):
    """``compute(i)`` at most once per ``i``, also when several threads ask at the same time
    (the later ones wait for the first); an exception is kept and raised to every caller."""

    def __init__(self, compute: Callable[[int], T]) -> None:
        self._compute = compute
        self._lock = threading.Lock()
        self._results: dict[int, Future[T]] = {}

    def __call__(self, i: int) -> T:
        with self._lock:
            future = self._results.get(i)
            owner = future is None
            if future is None:
                future = self._results[i] = Future()
        if owner:
            try:
                future.set_result(self._compute(i))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller just below
                future.set_exception(exc)
        return future.result()


class Ahead:
    """``result(p)`` is ``judge(p)`` (a ``Judged``) for candidate ``p``, a row of ``cand``
    (C, 2), asked in the order ``order`` (C,), skipping candidates the caller finds already
    grouped. With ``workers`` > 1, up to ``4 * workers`` later candidates are judged on
    threads meanwhile; ``groups`` is the caller's union-find (read here, merged only by the
    caller). ``free`` (C,) bool marks candidates kept without judging. Use as a context manager."""

    def __init__(
        self,
        order: np.ndarray,
        cand: np.ndarray,
        groups: DisjointSet,
        judge: Callable[[int], Judged],
        *,
        workers: int = 1,
        free: np.ndarray | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.order, self.cand, self.groups, self.judge = order, cand, groups, judge
        self.free = np.zeros(len(cand), bool) if free is None else free
        self.rank = np.empty(len(order), np.int64)
        self.rank[order] = np.arange(len(order))
        self.depth = 4 * workers
        self.pool = ThreadPoolExecutor(workers, "verify") if workers > 1 else None
        self.pending: dict[int, Future[Judged]] = {}
        self.frontier = 0  # index into ``order`` of the next candidate to consider starting

    def __enter__(self) -> Ahead:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def result(self, p: int) -> Judged:
        """``judge(p)``, from a thread that started it early when there is one."""
        if self.pool is None:
            return self.judge(p)
        k = int(self.rank[p])
        for q in [q for q in self.pending if self.rank[q] < k]:  # skipped after all: grouped
            self.pending.pop(q).cancel()
        if p not in self.pending:  # the guess left it out: its turn is now
            self.pending[p] = self.pool.submit(self.judge, p)
        self.frontier = max(self.frontier, k + 1)
        self._fill()
        return self.pending.pop(p).result()

    def _fill(self) -> None:
        """Start later candidates that the groups, plus every match in flight taken as kept,
        leave apart, until ``depth`` are in flight."""
        assert self.pool is not None
        guess = _Overlay()
        for q, future in self.pending.items():
            if not _rejected(future):
                guess.union(self._root(q, 0), self._root(q, 1))
        while len(self.pending) < self.depth and self.frontier < len(self.order):
            q = int(self.order[self.frontier])
            self.frontier += 1
            if guess.union(self._root(q, 0), self._root(q, 1)) and not self.free[q]:
                self.pending[q] = self.pool.submit(self.judge, q)

    def _root(self, q: int, end: int) -> int:
        return int(self.groups[int(self.cand[q, end])])


def _rejected(future: Future[Judged]) -> bool:
    return future.done() and future.exception() is None and future.result()[0] is False


class _Overlay:
    """A small union-find over the caller's group roots: the guessed merges."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        while (up := self.parent.get(x, x)) != x:
            x = up
        return x

    def union(self, a: int, b: int) -> bool:
        """Merge; True when ``a`` and ``b`` were apart."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb
        return ra != rb
