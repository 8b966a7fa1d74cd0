"""``winnow audit DIR --out OUT``: audit a local folder and write the findings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from winnow.cli.console import console, progress_bar
from winnow.cli.features import render_report
from winnow.config import get_settings

if TYPE_CHECKING:
    from analysis.audit import AuditResult

LAYOUTS = {
    "auto": "auto",
    "flat": "flat",
    "class": "class",
    "split-class": "split/class",
    "split/class": "split/class",
}


def audit(
    folder: Path = typer.Argument(..., exists=True, file_okay=False, help="folder of images"),
    out: Path = typer.Option(..., "--out", "-o", help="where issues.csv and images.parquet go"),
    layout: str = typer.Option("auto", help="auto | class | split-class | flat"),
    checks: list[str] = typer.Option(
        [], "--checks", "-c", help="issue types to check (repeat the option; default: all)"
    ),
    embed: bool = typer.Option(True, help="embeddings for near duplicates, labels, outliers"),
    detect: bool = typer.Option(False, "--detect", help="objects, faces, PII (docs/detection.md)"),
    boxes: Path | None = typer.Option(None, "--boxes", exists=True, help="COCO boxes to check"),
    question: list[str] = typer.Option([], "--question", "-q", help='e.g. "person_count > 0"'),
) -> None:
    """Audit a folder: integrity, quality, duplicates and leakage, label issues, outliers."""
    from analysis.audit import ISSUE_TYPES
    from sync.audit.folder import audit_folder, audit_options, write_outputs

    if layout not in LAYOUTS:
        raise typer.BadParameter(f"unknown layout {layout!r}", param_hint="--layout")
    settings = get_settings()
    try:
        options = audit_options(settings, frozenset(checks or ISSUE_TYPES), roots=(folder,))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--checks") from None
    scan, report, result = audit_folder(
        folder,
        settings,
        layout=LAYOUTS[layout],  # type: ignore[arg-type]
        options=options,
        embed=embed,
        progress=progress_bar,
    )
    render_report(scan, report, show_failures=0)
    if detect or boxes is not None:
        from sync.audit.detect import detect_folder

        result, _, skipped = detect_folder(
            result, settings, boxes_file=boxes, image_root=folder, questions=question
        )
        if skipped:
            console.print(f"[yellow]object detection skipped:[/] {skipped}", highlight=False)
    paths = write_outputs(result, out)
    render_audit(result)
    console.print(
        f"findings: {paths['issues']}\nper-image scores: {paths['images']}", highlight=False
    )


def render_audit(result: AuditResult) -> None:
    from analysis.audit import ISSUE_TYPES

    counts = result.issues.groupby("issue_type").size()
    table = Table("issue", "files", "worst example", title="Audit findings")
    for issue in dict.fromkeys([*ISSUE_TYPES, *counts.index]):  # detection types come last
        if issue in counts.index:
            worst = result.issues[result.issues["issue_type"] == issue].iloc[0]
            table.add_row(
                issue, str(counts[issue]), f"{Path(worst['path']).name}: {worst['details']}"[:80]
            )
    console.print(table)
    console.print(f"{len(result.files)} files, {len(result.issues)} findings", highlight=False)
    estimate = result.label_estimate
    if estimate is not None:
        console.print(
            f"label_issue (likely queue): {estimate.line('likely')}\n"
            f"possible_label_issue: {estimate.line('possible')}\n"
            f"(estimated by planting {estimate.plants} known label flips, {estimate.seeds} seeds)",
            highlight=False,
        )
