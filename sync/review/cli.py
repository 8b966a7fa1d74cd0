"""``winnow sync``: the command, its progress bars and its summary table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from winnow.cli.console import console, err_console, progress_bar
from winnow.config import get_settings

if TYPE_CHECKING:
    from analysis.label_issue_review import ReviewCheck


def sync(
    project: int = typer.Option(..., "--project", "-p", help="Label Studio project id"),
    watch: bool = typer.Option(False, "--watch", help="keep syncing every --every"),
    every: str | None = typer.Option(None, help="period of --watch, e.g. 10m (default: setting)"),
    add_review_control: bool = typer.Option(
        False, "--add-review-control", help="add the winnow_review choices to the label config"
    ),
    embed: bool = typer.Option(
        True, "--embed/--no-embed", help="embeddings (label issues, near duplicates, outliers)"
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="pull and audit, print what would be written, write nothing"
    ),
    refresh_evidence: bool = typer.Option(
        False,
        "--refresh-evidence",
        help="rebuild every flagged task's evidence panel, also where its findings did not "
        "change (with --watch: the first round)",
    ),
) -> None:
    """Pull annotations, audit the project, push review queues back into Label Studio."""
    from sync.review.job import run_sync
    from sync.review.pull import label_control
    from sync.review.review_control import ensure_review_control
    from sync.review.watch import parse_period
    from sync.review.watch import watch as watch_loop
    from winnow.labelstudio import connect
    from winnow.labelstudio.calls import ls_call

    settings = get_settings()
    period = parse_period(every or settings.sync.every)
    ls = connect(settings.label_studio, retries=settings.sync.retries)
    if add_review_control:
        config = ls_call(f"read project {project}", ls.projects.get, id=project).label_config
        if ensure_review_control(ls, project, to_name=label_control(config).to_name):
            console.print("added the [bold]winnow_review[/] choices to the label config")

    def one_round() -> None:
        nonlocal refresh_evidence  # once: later --watch rounds keep the current panels
        summary = run_sync(
            settings,
            project,
            ls=ls,
            embed=embed,
            dry_run=dry_run,
            refresh_evidence=refresh_evidence,
            progress=progress_bar,
        )
        refresh_evidence = False
        render(summary)

    if not watch or dry_run:
        one_round()
        return
    console.print(f"syncing project {project} every {every or settings.sync.every}; Ctrl-C stops")
    try:
        watch_loop(
            one_round,
            every_s=period,
            on_error=lambda e: err_console.print(f"[bold red]sync failed:[/] {e}"),
        )
    except KeyboardInterrupt:
        console.print("stopped")


def render(summary) -> None:
    """The queues with their task counts and URLs, then what changed."""
    p, d, pushed = summary.pulled, summary.decisions, summary.pushed
    table = Table(title=f"Review queues, project {summary.project}")
    table.add_column("queue")
    table.add_column("tasks", justify="right")
    table.add_column("URL", no_wrap=True, overflow="ignore")  # whole, so it can be copied
    for title, count in summary.findings.items():
        table.add_row(title, str(count), summary.views.get(title, ""))
    console.print(table)
    audit = "audited" if summary.audited else "audit skipped (nothing it reads changed)"
    console.print(
        f"pulled {p.fetched} changed of {p.total} tasks ({p.deleted} deleted); {audit}; "
        f"decisions: {d.kept} kept, {d.relabelled} relabelled, {d.other} other; "
        f"{'would write' if pushed.dry_run else 'wrote'} {pushed.tasks_updated} tasks, "
        f"predictions +{pushed.predictions_created} ~{pushed.predictions_updated} "
        f"-{pushed.predictions_deleted}; "
        f"{summary.panels_built} evidence panels built; {summary.seconds:.1f}s, "
        f"peak memory {summary.peak_mb:.0f} MB",
        highlight=False,
    )
    if summary.audited and summary.audit_work:
        console.print(f"audit: {summary.audit_work}", highlight=False)
    if pushed.dry_run:
        for kind, ids in pushed.sample.items():
            console.print(f"  {kind}: tasks {', '.join(map(str, ids))}, ...", highlight=False)
    phases = Table(title="Time per phase")
    phases.add_column("phase")
    phases.add_column("seconds", justify="right")
    phases.add_column("Label Studio calls", justify="right")
    phases.add_column("slowest requests (calls, seconds summed over writes in flight)")
    for name, phase in summary.meter.phases.items():
        slowest = ", ".join(
            f"{method} {m.calls} in {m.seconds:.1f} s"
            for method, m in summary.meter.slowest(name)
            if m.calls
        )
        phases.add_row(name, f"{phase.seconds:.2f}", str(phase.calls), slowest)
    console.print(phases)
    if summary.kappa is not None:
        console.print(
            f"annotator agreement (Fleiss' kappa, tasks with 2+ annotations): {summary.kappa:.3f}",
            highlight=False,
        )
    estimate = getattr(summary, "label_estimate", None)
    if estimate:
        console.print(
            "label-issue queues, estimated by planting "
            f"{estimate['plants']} known flips x {estimate['seeds']} seeds: likely "
            f"precision {_num(estimate['precision_likely'])}, recall "
            f"{_num(estimate['recall_likely'])}; possible precision "
            f"{_num(estimate['precision_possible'])}, recall with likely "
            f"{_num(estimate['recall_possible'])}",
            highlight=False,
        )
        from analysis.label_issue_estimate import estimate_warning

        warning = estimate_warning(estimate)
        if warning:
            console.print(f"[yellow]label-issue estimate {warning}[/]", highlight=False)
    _print_reviews(getattr(summary, "label_reviews", {}), summary.findings)
    for line in summary.ontology:
        console.print(f"[yellow]class names that look like one class:[/] {line}", highlight=False)


def _print_reviews(checks: dict[str, dict], findings: dict[str, int]) -> None:
    """Each reviewed label-issue queue's verdicts against its estimate, and a reminder while
    the likely queue's spot check has none."""
    from analysis.label_issue_review import ReviewCheck
    from sync.review.queues import SPOT_CHECK

    for name, stored in checks.items():
        print_review_check(ReviewCheck.from_dict(stored), name)
    if findings.get(SPOT_CHECK.title) and "likely spot check" not in checks:
        print_review_check(None, "likely spot check")


def print_review_check(check: ReviewCheck | None, name: str) -> None:
    """What reviewers found in a label-issue queue so far (``name``: the check's, e.g.
    "likely spot check"); yellow where nobody reviewed it or where they found it less precise
    than estimated (check before accepting it in bulk)."""
    if check is None:
        console.print(
            f"[yellow]{name}: no flag settled by a reviewer yet; its precision is the planted "
            "estimate alone (settle the spot-check View first)[/]",
            highlight=False,
        )
        return
    style = "yellow" if check.verdict == "over-stated" else "default"
    console.print(f"[{style}]{check.describe(name)}[/]", highlight=False)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
