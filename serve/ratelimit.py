"""A token bucket per API key: a burst is allowed, a flood is answered 429 with Retry-After.

Hand-written because it is twenty lines: the one rate-limit library in the lock file
(pyrate-limiter) arrives only as a test dependency of schemathesis, and keeps one entry per
request in its window. Buckets live in the process (one uvicorn worker); the guard calls
them on the event loop, so no lock is needed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    """``burst`` tokens, refilled at ``rate`` per second; a request takes one."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate}, burst={burst}")
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._last = float(burst), clock()

    def take(self) -> int:
        """0 when the request may go; else the whole seconds until a token is back."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0
        return max(1, math.ceil((1 - self._tokens) / self.rate))


class KeyRateLimiter:
    """One bucket per configured key (by its position), so a key cannot create buckets."""

    def __init__(self, n_keys: int, rate: float, burst: int) -> None:
        self._buckets = [TokenBucket(rate, burst) for _ in range(n_keys)] if rate > 0 else []

    def retry_after(self, key_index: int) -> int:
        """0 when key ``key_index`` may send this request; else seconds to wait."""
        return self._buckets[key_index].take() if self._buckets else 0
