"""``winnow config show``: the effective settings, secrets masked; ``winnow config
check-secrets``: refuse placeholder secrets in the environment."""

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


@app.command("check-secrets")
def check_secrets(
    names: list[str] = typer.Argument(..., help="environment variables that hold secrets"),
) -> None:
    """Refuse (exit 1) when any named variable is unset, empty or a placeholder such as
    change-me. The compose stack runs it before any server, for the secrets that belong to
    other programs (PostgreSQL, the Label Studio admin); values are never printed."""
    import os

    from winnow.config import placeholder_secrets

    bad = placeholder_secrets(os.environ, names)
    if bad:
        console.print(
            f"[red]error:[/red] set a real value (openssl rand -hex 20) for: {', '.join(bad)}"
        )
        raise typer.Exit(1)
    console.print(f"{len(names)} secrets set, none a placeholder")
