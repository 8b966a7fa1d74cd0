"""An ASGI app served by uvicorn in a background thread, on a free loopback port by default.

For callers that need a server beside other work in one process: integration tests,
benchmarks and the demo. ``start()`` returns once uvicorn reports it is listening.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any, Self

import uvicorn

from winnow.errors import ServiceError
from winnow.services.process import LOOPBACK, free_port


class AsgiThread:
    def __init__(
        self,
        app: Any,
        *,
        name: str,
        host: str = LOOPBACK,
        port: int | None = None,
        startup_timeout_s: float = 120.0,
    ) -> None:
        self.app, self.name, self.host = app, name, host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(
            app, host=host, port=self.port, log_level="warning", access_log=False, lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.startup_timeout_s = startup_timeout_s

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"{self.name} did not start on {self.url}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
