"""The web UI as a managed local process (for ``make demo``, tests and screenshots)."""

from __future__ import annotations

from pathlib import Path

from serve.cli import ui_command, ui_env
from winnow.config import Settings
from winnow.services.process import LOOPBACK, Service, free_port, http_status


class StreamlitUI(Service):
    name = "the Winnow web UI"
    startup_timeout_s = 60.0

    def __init__(
        self, settings: Settings, api_url: str, log_path: Path, port: int | None = None
    ) -> None:
        super().__init__(log_path)
        self.settings, self.api_url = settings, api_url
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"

    def _command(self) -> list[str]:
        return ui_command(self.settings, port=self.port)

    def _env(self) -> dict[str, str]:
        return ui_env(self.settings, self.api_url)

    def _is_ready(self) -> bool:
        return http_status(f"{self.url}/_stcore/health") == 200
