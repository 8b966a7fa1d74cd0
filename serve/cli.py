"""``winnow serve`` (the API) and ``winnow ui`` (the Streamlit app), via ``winnow.commands``."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import typer

from winnow.cli.console import console, fail
from winnow.config import Settings, child_env, get_settings
from winnow.logging_setup import uvicorn_log_config
from winnow.services.process import LOOPBACK

UI_SCRIPT = Path(__file__).resolve().parent / "ui" / "app.py"


def serve(
    host: str = typer.Option(None, help="address to listen on (default serve.host)"),
    port: int = typer.Option(None, help="port (default serve.port)"),
    project: int = typer.Option(None, "--project", help="Label Studio project to serve"),
) -> None:
    """Run the similarity and classify API (OpenAPI docs at /docs)."""
    import uvicorn

    from serve.app import create_app
    from serve.auth import configured_keys

    settings = _with_serve(get_settings(), host=host, port=port, project=project)
    logging.getLogger().setLevel(settings.log_level)
    s = settings.serve
    if s.host not in (LOOPBACK, "localhost", "::1") and not configured_keys(s):
        fail(
            f"refusing to serve on {s.host} without API keys: set WINNOW_SERVE__API_KEYS "
            "(comma-separated), or listen on 127.0.0.1"
        )
    console.print(
        f"Winnow API on http://{s.host}:{s.port} (docs: /docs, project: "
        f"{s.project if s.project is not None else 'all'})"
    )
    uvicorn.run(
        create_app(settings),
        host=s.host,
        port=s.port,
        log_level="warning",
        log_config=uvicorn_log_config(settings),
    )


def ui(
    host: str = typer.Option(LOOPBACK, help="address to listen on"),
    port: int = typer.Option(None, help="port (default serve.ui_port)"),
    api_url: str = typer.Option(
        None, help="the API's base URL (default ui.api_url, else serve.api_url)"
    ),
) -> None:
    """Run the web UI (Streamlit): browse the data set, classify an upload, search."""
    settings = get_settings()
    from serve.ui.login import check_exposure

    check_exposure(settings, host)
    command = ui_command(settings, port=port, address=host)
    console.print(f"Winnow UI on http://{host}:{port or settings.serve.ui_port}")
    raise typer.Exit(subprocess.call(command, env=ui_env(settings, api_url)))


def ui_command(
    settings: Settings, *, port: int | None = None, address: str = LOOPBACK
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(UI_SCRIPT),
        "--server.port",
        str(port or settings.serve.ui_port),
        "--server.address",
        address,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def ui_env(settings: Settings, api_url: str | None = None) -> dict[str, str]:
    """The UI gets its settings (``WINNOW_UI__*``) through the environment, never from argv,
    so the API key stays out of the process list."""
    ui = settings.ui
    overrides = {
        "WINNOW_UI__API_URL": api_url or ui.api_url or settings.serve.api_url,
        "WINNOW_UI__LABEL_STUDIO_URL": ui.label_studio_url or settings.label_studio.url,
    }
    from serve.auth import configured_keys

    keys = configured_keys(settings.serve)
    if ui.api_key is not None:
        overrides["WINNOW_UI__API_KEY"] = ui.api_key.get_secret_value()
    elif keys:
        overrides["WINNOW_UI__API_KEY"] = keys[0].decode()
    if ui.password is not None:
        overrides["WINNOW_UI__PASSWORD"] = ui.password.get_secret_value()
    return child_env(**overrides)


def _with_serve(settings: Settings, **overrides: object) -> Settings:
    changes = {k: v for k, v in overrides.items() if v is not None}
    if not changes:
        return settings
    serve_settings = settings.serve.model_copy(update=changes)
    return settings.model_copy(update={"serve": serve_settings})
