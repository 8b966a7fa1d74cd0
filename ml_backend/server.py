"""Run the backend with uvicorn: in the foreground (``winnow backend``) or in a thread.

The thread form is for callers that need the backend beside other work in one process:
the integration tests, the benchmark and the demo. ``start()`` returns once ``/health``
answers, so a caller can connect Label Studio right away.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Self

import uvicorn

from ml_backend.app import create_app
from ml_backend.predictors import ZeroShotPredictor
from winnow.config import Settings
from winnow.errors import ServiceError
from winnow.services.process import LOOPBACK, free_port


def run(settings: Settings, *, host: str = LOOPBACK, port: int = 9090) -> None:
    """Serve until interrupted (Ctrl-C)."""
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", access_log=False)


class BackendServer:
    """The backend in a background thread on ``host:port`` (a free port by default)."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str = LOOPBACK,
        port: int | None = None,
        predictor: ZeroShotPredictor | None = None,
        startup_timeout_s: float = 120.0,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        self.app = create_app(settings, predictor=predictor)
        config = uvicorn.Config(self.app, host=host, port=self.port, log_level="warning",
                                access_log=False, lifespan="on")  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None
        self.startup_timeout_s = startup_timeout_s

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.run, name="winnow-backend",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"the ML backend did not start on {self.url}")
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
