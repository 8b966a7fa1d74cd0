"""Builds the Typer app: the core's commands, then each adapter's from its entry point.

Every command module keeps its top level light (Typer, settings, the console); the work and
its heavy libraries (torch, cleanlab, fastai, open_clip) are imported inside the command, so
``winnow --help`` starts in well under a second. ``tests/winnow/cli/test_lazy_imports.py``
holds every command to that.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import typer

from winnow.cli import config, doctor, features, samples, store
from winnow.cli.console import run_guarded
from winnow.config import get_settings
from winnow.errors import ConfigError
from winnow.logging_setup import configure_logging

ENTRY_POINT_GROUP = "winnow.commands"
log = logging.getLogger(__name__)


def build_app() -> typer.Typer:
    """A fresh app with every command: the core's and those adapters declare."""
    app = typer.Typer(
        name="winnow",
        help="Image-dataset curation around Label Studio.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    app.add_typer(config.app, name="config")
    app.add_typer(store.app, name="store")
    app.command("features")(features.features)
    app.command("samples")(samples.samples)
    app.command("doctor")(doctor.doctor)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            command = ep.load()
        except Exception as exc:  # noqa: BLE001 - one broken adapter must not break the CLI
            log.warning("command %r unavailable (%s): %s", ep.name, ep.value, exc)
            continue
        if isinstance(command, typer.Typer):
            app.add_typer(command, name=ep.name)
        else:
            app.command(ep.name)(command)
    return app


def configure_logging_from_settings() -> None:
    """Logging as the settings ask (text or JSON), before any command logs."""
    try:
        settings = get_settings()
    except ConfigError:
        settings = None  # the command itself reports the bad configuration
    configure_logging(settings)


def main() -> None:
    configure_logging_from_settings()
    run_guarded(build_app())
