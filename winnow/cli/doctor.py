"""``winnow doctor``: check Label Studio, the index, S3, the model weights and the data dir."""

from __future__ import annotations

import typer
from rich.table import Table

from winnow.cli.console import console, fail
from winnow.config import get_settings
from winnow.doctor import CHECKS, run_checks

_STYLE = {"OK": "green", "FAIL": "bold red", "SKIP": "yellow"}


def doctor(
    check: list[str] = typer.Option(
        [], "--check", "-c", help=f"run only these checks: {', '.join(CHECKS)}"
    ),
) -> None:
    """Check every service and file Winnow depends on; exit 1 if anything is broken."""
    unknown = sorted(set(check) - set(CHECKS))
    if unknown:
        raise typer.BadParameter(
            f"unknown checks {unknown}; choose from {list(CHECKS)}", param_hint="--check"
        )
    results = run_checks(get_settings(), check or None)
    table = Table("check", "status", "found", "how to fix", title="Winnow doctor")
    for r in results:
        table.add_row(r.name, f"[{_STYLE[r.status]}]{r.status}[/]", r.detail, r.fix)
    console.print(table)
    failed = [r.name for r in results if r.status == "FAIL"]
    if failed:
        fail(f"{len(failed)} check(s) failed: {', '.join(failed)}")
