"""Builds the Typer app: core commands, adapter commands from entry points, placeholders."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

import typer

from winnow.cli import config_cmd, doctor_cmd, features_cmd, samples_cmd
from winnow.cli.console import fail, run_guarded
from winnow.logging_setup import configure_logging_from_settings

# Every command DESIGN.md promises, with what provides it once it exists.
PLANNED_COMMANDS = {
    "up": "start the local stack (Label Studio, backend, API)",
    "import": "import a folder, URL list or S3 prefix into a Label Studio project",
    "sync": "pull annotations, audit, push reviewer queues back to Label Studio",
    "audit": "run the audits over a folder or project",
    "export": "write a versioned data set to disk or S3",
    "serve": "run the similarity and classify API",
    "report": "render the data and model HTML reports",
    "backend": "run the Label Studio ML backend",
}

app = typer.Typer(
    name="winnow",
    help="Image-dataset curation around Label Studio.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(config_cmd.app, name="config")
app.command("features")(features_cmd.features)
app.command("samples")(samples_cmd.samples)
app.command("doctor")(doctor_cmd.doctor)


def _register_adapters(target: typer.Typer) -> set[str]:
    """Add commands that adapter packages declare under the ``winnow.commands`` group."""
    names = set()
    for ep in entry_points(group="winnow.commands"):
        try:
            command = ep.load()
        except Exception as exc:  # noqa: BLE001 - one broken adapter must not break the CLI
            logging.getLogger(__name__).warning("command %r unavailable: %s", ep.name, exc)
            target.command(ep.name)(_placeholder(ep.name, str(exc), "unavailable"))
            names.add(ep.name)
            continue
        if isinstance(command, typer.Typer):
            target.add_typer(command, name=ep.name)
        else:
            target.command(ep.name)(command)
        names.add(ep.name)
    return names


def _placeholder(name: str, purpose: str, state: str = "not built yet"):
    def command() -> None:
        fail(f"`winnow {name}` ({purpose}) is {state}.", code=2)

    command.__doc__ = f"{purpose.capitalize()}. [{state}]"
    return command


def build_app() -> typer.Typer:
    provided = _register_adapters(app)
    for name, purpose in PLANNED_COMMANDS.items():
        if name not in provided:
            app.command(name, context_settings={"ignore_unknown_options": True,
                                                "allow_extra_args": True})(
                _placeholder(name, purpose)
            )  # fmt: skip
    return app


def main() -> None:
    configure_logging_from_settings()
    run_guarded(build_app())
