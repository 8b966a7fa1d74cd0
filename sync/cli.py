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


def import_(
    source: str = typer.Argument(..., help="a folder, a URL list or s3://bucket/prefix/"),
    project: str = typer.Option(..., "--project", "-p", help="title (created if new) or id"),
    layout: str = typer.Option("auto", help="folders, S3: auto | flat | class | split/class"),
    task: str = typer.Option("classification", help="classification | detection"),
    multi_label: bool = typer.Option(False, "--multi-label", help="several labels per image"),
    licence: str | None = typer.Option(None, help="licence of images whose source names none"),
    author: str | None = typer.Option(None, help="author of images whose source names none"),
    embed: bool = typer.Option(False, "--embed/--no-embed", help="also compute embeddings"),
    url_mode: str = typer.Option("copy", help="URL lists: copy (serve downloads) | link"),
    download_dir: Path | None = typer.Option(None, help="URL lists: where downloads are kept"),
    concurrency: int = typer.Option(8, min=1, max=256, help="URL lists: parallel downloads"),
    rate_per_host: float = typer.Option(4.0, min=0, help="URL lists: requests/s per host, 0=off"),
    max_bytes: int | None = typer.Option(None, min=1, help="size limit (default io.max_bytes)"),
    s3_mode: str = typer.Option("storage", help="S3: storage (Label Studio reads S3) | presign"),
    presign_ttl: int = typer.Option(7 * 24 * 3600, min=1, help="S3 presign: URL lifetime, s"),
) -> None:
    """Import a folder, URL list or S3 prefix into a Label Studio project."""
    from sync.importing import ImportOptions, render_summary, run_import
    from winnow.cli.console import progress_bar
    from winnow.ingest.download import DownloadPolicy

    _check_choice("--layout", layout, ("auto", "flat", "class", "split/class"))
    _check_choice("--task", task, ("classification", "detection"))
    _check_choice("--url-mode", url_mode, ("copy", "link"))
    _check_choice("--s3-mode", s3_mode, ("storage", "presign"))
    settings = get_settings()
    if max_bytes is not None:
        io = settings.io.model_copy(update={"max_bytes": max_bytes})
        settings = settings.model_copy(update={"io": io})
    opts = ImportOptions(
        source=source, project=project, layout=layout, task=task,  # type: ignore[arg-type]
        multi_label=multi_label, licence=licence, author=author, embed=embed,
        url_mode=url_mode, download_dir=download_dir, s3_mode=s3_mode,  # type: ignore[arg-type]
        presign_ttl_s=presign_ttl,
        policy=DownloadPolicy(concurrency=concurrency, per_host_rate=rate_per_host or None),
    )  # fmt: skip
    summary = run_import(opts, settings=settings, progress=progress_bar)
    render_summary(summary, console)


def _check_choice(hint: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}", param_hint=hint)
