"""A bound on the decodes and embeddings running at once: the API's memory ceiling.

A 40 MP upload decodes to over 100 MB, and uvicorn runs up to 40 threads, so concurrent
uploads, not their count per second, decide the peak memory. Work that decodes or embeds
runs through :meth:`WorkSlots.run`: at most ``serve.decode_concurrency`` at a time, and the
rest wait on the event loop, holding no thread (the upload stays in its spool file).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

T = TypeVar("T")


class WorkSlots:
    def __init__(self, slots: int) -> None:
        self.limiter = CapacityLimiter(slots)

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``func(*args, **kwargs)`` in a worker thread, once a slot is free."""
        return await anyio.to_thread.run_sync(partial(func, *args, **kwargs), limiter=self.limiter)
