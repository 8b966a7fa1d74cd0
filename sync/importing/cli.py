"""``winnow import``: a folder, URL list or S3 prefix into a Label Studio project."""

from __future__ import annotations

from pathlib import Path

import typer

from winnow.cli.console import console, err_console
from winnow.config import get_settings

PRESIGN_WARNING = (
    "[yellow]--s3-mode presign:[/] every task stores a URL that carries the S3 access key id "
    "and a signature valid for --presign-ttl; anyone who can read the project can fetch the "
    "image until then. Exports drop these parameters. Sign with a read-only key, or prefer "
    "--s3-mode storage."
)


def import_(
    source: str = typer.Argument(..., help="a folder, a URL list or s3://bucket/prefix/"),
    project: str = typer.Option(..., "--project", "-p", help="title (created if new) or id"),
    layout: str = typer.Option("auto", help="folders, S3: auto | flat | class | split/class"),
    task: str = typer.Option("classification", help="classification | detection"),
    multi_label: bool = typer.Option(False, "--multi-label", help="several labels per image"),
    labels: Path | None = typer.Option(
        None,
        "--labels",
        exists=True,
        dir_okay=False,
        help="folders: a CSV of image,labels[,split] (labels |-joined); "
        "default: the folder's labels.csv when it has those columns",
    ),
    licence: str | None = typer.Option(None, help="licence of images whose source names none"),
    author: str | None = typer.Option(None, help="author of images whose source names none"),
    embed: bool = typer.Option(False, "--embed/--no-embed", help="also compute embeddings"),
    url_mode: str = typer.Option("copy", help="URL lists: copy (serve downloads) | link"),
    download_dir: Path | None = typer.Option(None, help="URL lists: where downloads are kept"),
    concurrency: int = typer.Option(8, min=1, max=256, help="URL lists: parallel downloads"),
    rate_per_host: float = typer.Option(4.0, min=0, help="URL lists: requests/s per host, 0=off"),
    max_bytes: int | None = typer.Option(None, min=1, help="size limit (default io.max_bytes)"),
    s3_mode: str = typer.Option(
        "storage",
        help="S3: storage (Label Studio reads S3; the default) | presign (tasks hold URLs "
        "that carry the access key id: use a read-only key)",
    ),
    presign_ttl: int = typer.Option(7 * 24 * 3600, min=1, help="S3 presign: URL lifetime, s"),
) -> None:
    """Import a folder, URL list or S3 prefix into a Label Studio project."""
    from sync.importing.job import ImportOptions, run_import
    from sync.importing.summary import render_summary
    from winnow.cli.console import progress_bar
    from winnow.ingest.download import DownloadPolicy

    _check_choice("--layout", layout, ("auto", "flat", "class", "split/class"))
    _check_choice("--task", task, ("classification", "detection"))
    _check_choice("--url-mode", url_mode, ("copy", "link"))
    _check_choice("--s3-mode", s3_mode, ("storage", "presign"))
    if labels is not None and not Path(source).is_dir():
        raise typer.BadParameter("a label table goes with a folder source", param_hint="--labels")
    if s3_mode == "presign" and source.startswith("s3://"):
        err_console.print(PRESIGN_WARNING, highlight=False)
    settings = get_settings()
    if max_bytes is not None:
        io = settings.io.model_copy(update={"max_bytes": max_bytes})
        settings = settings.model_copy(update={"io": io})
    opts = ImportOptions(
        source=source,
        project=project,
        layout=layout,
        task=task,  # type: ignore[arg-type]
        multi_label=multi_label,
        label_table=labels,
        licence=licence,
        author=author,
        embed=embed,
        url_mode=url_mode,
        download_dir=download_dir,
        s3_mode=s3_mode,  # type: ignore[arg-type]
        presign_ttl_s=presign_ttl,
        policy=DownloadPolicy(concurrency=concurrency, per_host_rate=rate_per_host or None),
    )
    summary = run_import(opts, settings=settings, progress=progress_bar)
    render_summary(summary, console)


def _check_choice(hint: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}", param_hint=hint)
