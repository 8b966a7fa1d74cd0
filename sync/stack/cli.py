"""``winnow up`` and ``winnow demo``: the local stack, alone or with the whole workflow on it."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from winnow.cli.console import console, fail, progress_bar
from winnow.config import get_settings


def demo(
    folder: Path = typer.Argument(..., exists=True, file_okay=False, help="a class-folder set"),
    ls_venv: Path = typer.Option(..., envvar="WINNOW_LS_VENV", help="Label Studio's virtualenv"),
    wait: bool | None = typer.Option(
        None, "--wait/--no-wait", help="keep the stack up until Ctrl-C (default: on a TTY)"
    ),
) -> None:
    """Start the stack, import, pre-annotate, audit, sync queues, learn, export, serve."""
    from sync.audit.cli import render_audit
    from sync.importing.summary import render_summary
    from sync.stack.demo import audit_demo, import_and_predict, start_stack, wait_for_interrupt

    settings = get_settings()
    workdir = settings.data_dir
    folder = folder.resolve()
    console.print("starting Label Studio (SQLite) and the ML backend ...")
    stack = start_stack(settings, ls_venv=ls_venv, files_root=folder.parent, workdir=workdir)
    try:
        summary, predict_rc = import_and_predict(stack, folder)
        render_summary(summary, console)
        result = audit_demo(folder, stack.settings, workdir / "audit", progress_bar)
        render_audit(result)
        from sync.review.cli import render
        from sync.review.job import run_sync

        render(run_sync(stack.settings, summary.project_id, progress=progress_bar))
        links = _later_steps(stack, folder, summary.project_id, workdir, settings)
        ls = stack.label_studio
        console.print(
            f"\n[bold]Label Studio[/]  {summary.project_url}\n"
            f"[bold]login[/]         {login_hint(ls)}\n"
            f"[bold]ML backend[/]    {stack.backend_url}\n"
            f"[bold]audit[/]         {workdir / 'audit' / 'issues.csv'}",
            highlight=False,
        )
        for name, link in links.items():
            console.print(f"[bold]{name:<13}[/] {link}", highlight=False)
        if predict_rc != 0:
            fail(f"pre-annotation failed (exit {predict_rc}); see the output above")
        if wait if wait is not None else sys.stdin.isatty():
            console.print("The stack is running; press Ctrl-C to stop it.")
            wait_for_interrupt(stack)
    finally:
        stack.stop()


def up(
    files_root: Path = typer.Option(
        Path("."),
        exists=True,
        file_okay=False,
        help="folder Label Studio may serve local files from",
    ),
    ls_venv: Path = typer.Option(..., envvar="WINNOW_LS_VENV", help="Label Studio's virtualenv"),
    project: int | None = typer.Option(None, help="project the API serves (default: all)"),
) -> None:
    """Start the local stack: Label Studio (SQLite), the ML backend, the API and the web UI.

    State lives under ``data_dir`` and survives restarts. Runs until Ctrl-C. ``winnow index``
    may run meanwhile: it publishes a new index version and the API switches to it.
    """
    from sync.stack.demo import start_stack, wait_for_interrupt
    from sync.stack.demo_steps import start_api_and_ui

    settings = get_settings()
    workdir = settings.data_dir
    console.print("starting Label Studio (SQLite), the ML backend, the API and the UI ...")
    stack = start_stack(settings, ls_venv=ls_venv, files_root=files_root.resolve(), workdir=workdir)
    try:
        api_url, ui_url = start_api_and_ui(stack, project, workdir)
        for name, value in up_lines(stack.label_studio, stack.backend_url, api_url, ui_url):
            console.print(f"[bold]{name:<13}[/] {value}", highlight=False)
        console.print("Running; press Ctrl-C to stop.")
        wait_for_interrupt(stack)
    finally:
        stack.stop()


def login_hint(ls) -> str:  # type: ignore[no-untyped-def]
    """The admin user and the file that holds the password, never the password itself:
    terminal output outlives the run (scrollback, CI logs, shared screens)."""
    from winnow.services.label_studio import CREDENTIALS_FILE

    return f"{ls.username} (password in {ls.data_dir / CREDENTIALS_FILE})"


def up_lines(ls, backend_url: str, api_url: str, ui_url: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """What `winnow up` prints once the stack runs: where each part is, and how to log in."""
    return [
        ("Label Studio", ls.url),
        ("login", login_hint(ls)),
        ("API key", "WINNOW_LABEL_STUDIO__API_KEY=" + ls.api_key),
        ("ML backend", backend_url),
        ("API", f"{api_url}/docs"),
        ("web UI", ui_url),
    ]


def _later_steps(stack, folder: Path, project: int, workdir: Path, settings) -> dict[str, str]:
    """Active learning, export, index, reports, then the API and UI: what to open next."""
    from sync.stack.demo_steps import active_learning, learning_view, run_cli, start_api_and_ui

    console.print("\n[bold]active learning[/]: annotating a few tasks through the API ...")
    learning = active_learning(stack, folder, per_class=settings.training.min_per_class)
    ls_url = stack.settings.label_studio.url
    export, reports = workdir / "export", workdir / "reports"
    steps = [
        ("export", "--project", str(project), "--out", str(export)),
        ("index", "--project", str(project)),
        ("report", "data", "--project", str(project), "--out", str(reports / "data.html")),
        ("report", "model", "--project", str(project), "--out", str(reports / "model.html")),
    ]
    for args in steps:
        if run_cli(stack, *args) != 0:
            fail(f"`winnow {' '.join(args)}` failed; see the output above")
    cards = sorted(export.glob("v*/DATASET_CARD.md"))
    api_url, ui_url = start_api_and_ui(stack, project, workdir)
    stack.links = {
        "learning": f"{ls_url}/projects/{learning}/data?tab={learning_view(stack, learning)}",
        "dataset card": str(cards[-1]) if cards else "(no export)",
        "data report": str(reports / "data.html"),
        "model report": str(reports / "model.html"),
        "API": f"{api_url}/docs",
        "web UI": ui_url,
    }
    return stack.links
