"""The bounded write pool: every result reaches the caller's thread, the first failure stops
new submissions and is raised, and the pool never runs more than its size at once."""

from __future__ import annotations

import threading
import time

import pytest

from sync.review.meter import CountingClient, Meter
from sync.review.pool import run_bounded


def test_results_arrive_in_the_calling_thread_and_concurrency_is_bounded() -> None:
    caller = threading.get_ident()
    running, peak, lock = 0, 0, threading.Lock()
    seen: dict[int, int] = {}

    def work(job: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return job * 2

    def done(job: int, result: int) -> None:
        assert threading.get_ident() == caller
        seen[job] = result

    run_bounded(range(40), work, done, workers=3)
    assert seen == {j: 2 * j for j in range(40)}
    assert 1 < peak <= 3


def test_the_first_failure_stops_submissions_and_is_raised() -> None:
    started: list[int] = []

    def work(job: int) -> int:
        started.append(job)
        if job == 2:
            raise ValueError("refused")
        time.sleep(0.02)
        return job

    done: list[int] = []
    with pytest.raises(ValueError, match="refused"):
        run_bounded(range(100), work, lambda j, r: done.append(j), workers=2)
    assert len(started) < 20 and 2 not in done
    with pytest.raises(ValueError):
        run_bounded([1], work, lambda j, r: None, workers=0)


def test_calls_are_counted_in_the_open_phase() -> None:
    class Tasks:
        def list(self) -> list[int]:
            return [1]

        def update(self) -> None:
            time.sleep(0.05)

    class Client:
        tasks = Tasks()
        url = "http://x"

    meter = Meter()
    client = CountingClient(Client(), meter)
    with meter.phase("pull"):
        client.tasks.list()
        client.tasks.list()
    with meter.phase("push"):
        assert client.url == "http://x"
        client.tasks.update()
        client.tasks.list()
    assert (meter.phases["pull"].calls, meter.phases["push"].calls, meter.calls) == (2, 2, 4)
    assert meter.methods["pull"]["tasks.list"].calls == 2  # each call under its method
    slowest = meter.slowest("push")
    assert [name for name, _ in slowest] == ["tasks.update", "tasks.list"]
    assert slowest[0][1].calls == 1 and slowest[0][1].seconds >= 0.05
    assert meter.slowest("views") == []
