"""Commands contributed by ``sync`` to the ``winnow`` CLI (entry-point group winnow.commands)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from analysis.overview import Overview, overview
from winnow.cli.console import console
from winnow.cli.features_cmd import compute_folder, render_report
from winnow.config import get_settings
from winnow.store import FeatureStore


def demo(
    folder: Path = typer.Argument(..., exists=True, file_okay=False, help="a class-folder set"),
) -> None:
    """Compute features for a sample data set, audit it and print a summary."""
    settings = get_settings()
    scan, report = compute_folder(folder, settings)
    render_report(scan, report, show_failures=20)
    uris = {item.uri for item in scan.items}
    with FeatureStore(settings.store_path) as store:
        sources = store.sources_frame()
        images = store.images_frame()
    render_overview(overview(images, sources[sources["uri"].isin(uris)]))


def render_overview(ov: Overview) -> None:
    table = Table(title="Audit summary", show_header=False)
    rows = [
        ("files", ov.n_sources),
        ("distinct decodable images", ov.n_images),
        ("classes", len(ov.labels)),
        ("unusable files", sum(ov.failures.values())),
        ("extension disagrees with format", ov.wrong_extension),
        ("EXIF-rotated", ov.exif_rotated),
        ("with alpha channel", ov.with_alpha),
        ("exact duplicate groups", ov.exact_duplicate_groups),
        ("redundant exact copies", ov.exact_duplicate_extra_files),
        (f"near-duplicate pairs (phash <= {ov.near_duplicate_threshold})",
         ov.near_duplicate_pairs),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    for title, counts in (("Unusable by reason", ov.failures), ("Images per class", ov.labels),
                          ("Colour modes", ov.modes)):  # fmt: skip
        if counts:
            console.print(f"[bold]{title}:[/] " + ", ".join(f"{k} {v}" for k, v in counts.items()),
                          highlight=False)  # fmt: skip
