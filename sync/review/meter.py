"""Per-phase wall time and Label Studio call counts for the sync summary.

The client is wrapped, not patched: :class:`CountingClient` proxies the SDK object and counts
each SDK method call (one HTTP request each: every listing passes its page explicitly) into
the phase that is open at the time, from any thread. Each call is also timed under its
method's name (``tasks.update``, ``projects.import_predictions``), so a slow phase says which
kind of request it waited on; with several writes in flight those seconds add up to more
than the phase's wall time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass
class Phase:
    seconds: float = 0.0
    calls: int = 0


@dataclass
class MethodCalls:
    """One SDK method's calls in one phase; ``seconds`` summed over calls (and threads)."""

    calls: int = 0
    seconds: float = 0.0


class Meter:
    """Phases in the order they first ran; ``calls`` land in the open phase, and in
    ``methods[phase][method]`` with their time."""

    def __init__(self) -> None:
        self.phases: dict[str, Phase] = {}
        self.methods: dict[str, dict[str, MethodCalls]] = {}
        self._open = "other"
        self._lock = threading.Lock()

    @contextmanager
    def phase(self, name: str) -> Iterator[Phase]:
        entry = self.phases.setdefault(name, Phase())
        before, self._open = self._open, name
        started = time.perf_counter()
        try:
            yield entry
        finally:
            entry.seconds += time.perf_counter() - started
            self._open = before

    def count(self, n: int = 1, *, method: str = "other", seconds: float = 0.0) -> None:
        with self._lock:
            self.phases.setdefault(self._open, Phase()).calls += n
            entry = self.methods.setdefault(self._open, {}).setdefault(method, MethodCalls())
            entry.calls += n
            entry.seconds += seconds

    def slowest(self, phase: str, n: int = 3) -> list[tuple[str, MethodCalls]]:
        """The ``n`` methods that took the most time in ``phase``, slowest first."""
        methods = self.methods.get(phase, {})
        return sorted(methods.items(), key=lambda kv: -kv[1].seconds)[:n]

    @property
    def calls(self) -> int:
        return sum(p.calls for p in self.phases.values())


class CountingClient:
    """``ls`` as it is, except that every method call is counted and timed by ``meter``."""

    def __init__(self, target: Any, meter: Meter, path: str = "") -> None:
        self.target = target
        self.meter = meter
        self.path = path

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.target, name)
        path = f"{self.path}.{name}" if self.path else name
        if callable(value):
            meter = self.meter

            def counted(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return value(*args, **kwargs)
                finally:
                    meter.count(method=path, seconds=time.perf_counter() - started)

            return counted
        if value is None or isinstance(value, (str, int, float, bool, bytes)):
            return value
        return CountingClient(value, self.meter, path)
