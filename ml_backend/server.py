"""Run the backend with uvicorn: in the foreground (``winnow backend``) or in a thread.

The thread form is for callers that need the backend beside other work in one process:
the integration tests, the benchmark and the demo. ``start()`` returns once ``/health``
answers, so a caller can connect Label Studio right away.
"""

from __future__ import annotations

import uvicorn

from ml_backend.app import create_app
from ml_backend.auth import check_exposure
from winnow.config import Settings
from winnow.logging_setup import uvicorn_log_config
from winnow.services.asgi_thread import AsgiThread
from winnow.services.process import LOOPBACK
from winnow.zeroshot import ZeroShotPredictor


def run(settings: Settings, *, host: str = LOOPBACK, port: int = 9090) -> None:
    """Serve until interrupted (Ctrl-C); off loopback only with basic auth."""
    check_exposure(settings, host)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        log_config=uvicorn_log_config(settings),
    )


class BackendServer(AsgiThread):
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
        check_exposure(settings, host)
        super().__init__(
            create_app(settings, predictor=predictor),
            name="the ML backend",
            host=host,
            port=port,
            startup_timeout_s=startup_timeout_s,
        )
