"""Shared terminal output for commands: one console, progress bars, error exits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from winnow.errors import WinnowError
from winnow.progress import Advance

console = Console(stderr=False)
err_console = Console(stderr=True)


def fail(message: str, *, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def run_guarded(app: typer.Typer) -> None:
    """Run the app; a WinnowError becomes a one-line message and exit code 1, not a trace."""
    try:
        app()
    except WinnowError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise SystemExit(1) from None


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(n)`` callback backed by a rich progress bar (a
    :data:`winnow.progress.ProgressFactory`)."""
    with staged_progress_bar(description) as start:
        yield start(total)


@contextmanager
def staged_progress_bar(description: str) -> Iterator[Callable[[int | None], Advance]]:
    """Yield ``start(total) -> advance(n)``, for jobs that learn the total only after listing."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task(description, total=None)

        def start(total: int | None) -> Advance:
            progress.update(task, total=total)
            return lambda n=1: progress.advance(task, n)

        yield start
