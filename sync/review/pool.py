"""A small bounded pool for per-task writes Label Studio has no bulk route for.

Results are handed to ``on_done`` in the calling thread as they arrive, so the caller records
each finished write in its (single-threaded) SQLite state at once: a run killed mid-way loses
at most the writes in flight, which the next pull sees as changed tasks. ``pace_s`` spaces the
submissions (a global rate, whatever the pool size), for servers that must not be rushed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

J = TypeVar("J")
R = TypeVar("R")


def run_bounded(
    jobs: Iterable[J],
    work: Callable[[J], R],
    on_done: Callable[[J, R], None],
    *,
    workers: int,
    pace_s: float = 0.0,
) -> None:
    """Run ``work(job)`` for every job on ``workers`` threads, at most ``2 * workers`` queued.

    The first failure stops new submissions; writes already in flight finish and are recorded,
    then the failure is raised."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    pending: dict[Future, J] = {}
    failure: BaseException | None = None

    def drain(block: bool) -> None:
        nonlocal failure
        if not pending:
            return
        done, _ = wait(list(pending), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in done:
            job = pending.pop(future)
            exc = future.exception()
            if exc is not None:
                failure = failure or exc
            else:
                on_done(job, future.result())

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ls-write") as pool:
        for job in jobs:
            if failure is not None:
                break
            while len(pending) >= 2 * workers:
                drain(block=True)
            pending[pool.submit(work, job)] = job
            drain(block=False)
            if pace_s:
                time.sleep(pace_s)
        while pending:
            drain(block=True)
    if failure is not None:
        raise failure
