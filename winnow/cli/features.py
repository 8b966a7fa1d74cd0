"""``winnow features DIR``: fill the feature store for a folder of images."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from winnow.cli.console import console, progress_bar
from winnow.config import get_settings

if TYPE_CHECKING:
    from winnow.features.extract import ExtractionReport
    from winnow.features.walk import ScanResult


def render_report(scan: ScanResult, report: ExtractionReport, *, show_failures: int = 10) -> None:
    table = Table(title=f"Features ({scan.layout} layout)", show_header=False)
    table.add_row("images", str(report.total))
    table.add_row("cache hits", str(report.cache_hits))
    table.add_row("computed", str(report.computed))
    table.add_row("embedded", str(report.embedded))
    table.add_row("failed", str(report.failed))
    table.add_row("skipped (not images)", str(scan.skipped))
    table.add_row("seconds", f"{report.seconds:.1f}")
    table.add_row("images/s", f"{report.images_per_second:.1f}")
    console.print(table)
    if report.errors:
        errors = Table("kind", "count", title="Failures by kind")
        for kind, count in report.errors.most_common():
            errors.add_row(kind, str(count))
        console.print(errors)
        for uri, kind, reason in report.failures[:show_failures]:
            console.print(f"  [yellow]{kind}[/] {uri}: {reason}", highlight=False)


def features(
    folder: Path = typer.Argument(..., exists=True, file_okay=False, help="folder of images"),
    layout: str = typer.Option("auto", help="auto | flat | class | split/class"),
    embed: bool = typer.Option(True, help="also compute embeddings"),
    workers: int | None = typer.Option(None, min=0, help="decode processes (default: cores)"),
    engine: str = typer.Option("local", help="local (worker processes) | ray (a Ray cluster)"),
    ray_address: str | None = typer.Option(
        None, help="Ray cluster to join (default: RAY_ADDRESS, else a local Ray)"
    ),
) -> None:
    """Compute hashes, metadata, quality measurements and embeddings into the feature store."""
    from winnow.features.folder import compute_folder
    from winnow.features.ray_engine import RayOptions

    if layout not in ("auto", "flat", "class", "split/class"):
        raise typer.BadParameter(f"unknown layout {layout!r}", param_hint="--layout")
    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"unknown engine {engine!r}", param_hint="--engine")
    settings = get_settings()
    if workers is not None:
        feats = settings.features.model_copy(update={"workers": workers})
        settings = settings.model_copy(update={"features": feats})
    ray = RayOptions(address=ray_address) if engine == "ray" else None
    scan, report = compute_folder(
        folder, settings, layout=layout, embed=embed, ray=ray, progress=progress_bar
    )  # type: ignore[arg-type]
    render_report(scan, report)
    console.print(f"store: {settings.store_path}", highlight=False)
