"""Per-phase wall time and Label Studio call counts for the sync summary.

The client is wrapped, not patched: :class:`CountingClient` proxies the SDK object and counts
each SDK method call (one HTTP request each: every listing passes its page explicitly) into
the phase that is open at the time, from any thread.
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


class Meter:
    """Phases in the order they first ran; ``calls`` land in the open phase."""

    def __init__(self) -> None:
        self.phases: dict[str, Phase] = {}
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

    def count(self, n: int = 1) -> None:
        with self._lock:
            self.phases.setdefault(self._open, Phase()).calls += n

    @property
    def calls(self) -> int:
        return sum(p.calls for p in self.phases.values())


class CountingClient:
    """``ls`` as it is, except that every method call is counted by ``meter``."""

    def __init__(self, target: Any, meter: Meter) -> None:
        self.target = target
        self.meter = meter

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.target, name)
        if callable(value):
            meter = self.meter

            def counted(*args: Any, **kwargs: Any) -> Any:
                meter.count()
                return value(*args, **kwargs)

            return counted
        if value is None or isinstance(value, (str, int, float, bool, bytes)):
            return value
        return CountingClient(value, self.meter)
