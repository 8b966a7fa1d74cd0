"""``winnow review accept`` and ``winnow review undo``: bulk correction of a review queue.

The work is in :mod:`sync.corrections.accept`; this module keeps to options and output."""

from __future__ import annotations

import getpass

import typer

from winnow.cli.console import console, fail
from winnow.config import get_settings

review = typer.Typer(
    help="Turn a review queue's suggested labels into annotations, and undo a batch.",
    no_args_is_help=True,
)


def _reviewer(name: str | None) -> str:
    return name or getpass.getuser()


@review.command("accept")
def accept(
    project: int = typer.Option(..., "--project", "-p", help="Label Studio project id"),
    queue: str = typer.Option("likely", "--queue", help="label-issue queue: likely or possible"),
    min_score: float = typer.Option(
        0.0, "--min-score", help="only tasks whose label-issue score is at least this"
    ),
    reviewer: str | None = typer.Option(
        None, "--reviewer", help="who accepts the batch (default: the login name)"
    ),
    skip_annotated: bool = typer.Option(
        False,
        "--skip-annotated",
        help="leave out every task with any annotation (default: only those a human "
        "annotated after the suggestion was written)",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="say what would be accepted, write nothing"
    ),
    force: bool = typer.Option(
        False,
        "--force",
        help="accept even where reviewers found the queue less precise than its estimate",
    ),
) -> None:
    """Add the suggested labels of a queue as annotations (human ones are never edited)."""
    from sync.corrections.accept import accept as run_accept
    from sync.review.batch_log import log_path
    from sync.review.cli import print_review_check
    from sync.review.job import sync_lock
    from sync.review.queues import LABEL_QUEUES
    from sync.review.state import SyncState, state_path
    from winnow.labelstudio import connect

    if queue not in LABEL_QUEUES:
        fail(f"--queue must be one of {', '.join(sorted(LABEL_QUEUES))}, got {queue!r}")
    settings = get_settings()
    ls = connect(settings.label_studio, retries=settings.sync.retries)
    with sync_lock(settings, project), SyncState(state_path(settings.data_dir)) as state:
        report = run_accept(
            ls,
            state,
            project,
            queue=queue,
            log=log_path(settings.data_dir),
            reviewer=_reviewer(reviewer),
            min_score=min_score,
            dry_run=dry_run,
            skip_annotated=skip_annotated,
            page_size=settings.sync.page_size,
            force=force,
        )
    print_review_check(report.check, report.check_name)
    verb = "would accept" if dry_run else "accepted"
    console.print(
        f"{report.candidates} tasks in queue {queue!r} at score >= {min_score}: {verb} "
        f"{len(report.accepted)}; skipped {len(report.human)} a human annotated since, "
        f"{len(report.already)} already accepted, {len(report.stale)} no longer in the queue",
        highlight=False,
    )
    if report.batch:
        console.print(
            f"batch [bold]{report.batch}[/]: {len(report.annotations)} annotations; "
            f"undo with: winnow review undo {report.batch}"
        )


@review.command("undo")
def undo(
    batch: str = typer.Argument(..., help="batch id printed by `winnow review accept`"),
    reviewer: str | None = typer.Option(None, "--reviewer", help="who undoes the batch"),
) -> None:
    """Delete the annotations a batch added, unless someone edited them since."""
    from sync.corrections.accept import undo as run_undo
    from sync.review.batch_log import log_path
    from winnow.labelstudio import connect

    settings = get_settings()
    ls = connect(settings.label_studio, retries=settings.sync.retries)
    report = run_undo(ls, batch, log=log_path(settings.data_dir), reviewer=_reviewer(reviewer))
    console.print(
        f"batch {batch}: deleted {len(report.deleted)} annotations; kept {len(report.edited)} "
        f"edited since ({', '.join(map(str, report.edited)) or 'none'}); "
        f"{len(report.gone)} already gone",
        highlight=False,
    )
