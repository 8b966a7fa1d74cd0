"""``winnow config show``: the effective settings, secrets masked."""

from __future__ import annotations

import typer
import yaml

from winnow.cli.console import console
from winnow.config import get_settings, masked_dump

app = typer.Typer(help="Inspect the effective configuration.", no_args_is_help=True)


@app.command("show")
def show() -> None:
    """Print the settings from winnow.yaml and WINNOW_* variables, with secrets masked."""
    dumped = masked_dump(get_settings())
    console.print(yaml.safe_dump(dumped, sort_keys=False), end="", highlight=False)
