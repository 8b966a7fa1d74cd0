"""``winnow index --project ID`` (or ``--dir DIR``): upsert every image's embedding and payload
into the vector index (Qdrant Edge by default, a Qdrant server when a URL is configured).
On Edge each run builds and publishes a new version; a running API switches to it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from winnow.cli.console import console, fail, progress_bar
from winnow.config import Settings, get_settings

if TYPE_CHECKING:
    from sync.indexing.job import IndexRun


def index(
    project: int | None = typer.Option(None, "--project", "-p", help="Label Studio project id"),
    folder: Path | None = typer.Option(
        None, "--dir", exists=True, file_okay=False, help="index a local folder instead"
    ),
    findings: Path | None = typer.Option(
        None, "--findings", exists=True, dir_okay=False, help="--dir: an audit's issues.csv"
    ),
    layout: str = typer.Option("auto", help="--dir: auto | flat | class | split/class"),
    pull: bool = typer.Option(True, help="--project: pull Label Studio changes first"),
) -> None:
    """Upsert embeddings with task id, labels, split, flags, sha256 and URL into the index."""
    if (project is None) == (folder is None):
        fail("pass exactly one of --project ID or --dir DIR", code=2)
    from sync.indexing.job import folder_frame, index_new_version
    from winnow.features.walk import folders_of

    settings = get_settings()
    if folder is not None:
        frame = folder_frame(settings, folder.resolve(), findings=findings, layout=layout)
    else:
        from sync.project_frame import project_frame  # lazy: Label Studio only when asked

        frame = project_frame(settings, project, pull=pull)  # type: ignore[arg-type]
    if frame.empty:
        fail("nothing to index: the project or folder has no images")
    from winnow.models import make_embedder

    run = index_new_version(  # a running `winnow serve` switches to it once published
        frame,
        settings=settings,
        embedder=make_embedder(settings.embedding),
        project=project,
        bars=progress_bar,
        # a folder the operator named may be read; a project's task paths may not
        trusted_roots=folders_of(frame["image"]) if folder is not None else (),
    )
    render_run(run, settings, len(frame))


def render_run(run: IndexRun, settings: Settings, rows: int) -> None:
    from winnow.index import index_location

    where = index_location(settings)
    table = Table(title=f"Index {settings.index.collection!r} ({where})", show_header=False)
    for name, value in (
        ("tasks or files", rows),
        ("images indexed", run.sync.indexed),
        ("  written now", run.sync.upserted),
        ("  unchanged", run.sync.unchanged),
        ("removed (left the project)", run.sync.deleted),
        ("no embedding (undecodable)", run.sync.missing_vector),
        ("no content (no URL, unreadable)", run.sync.no_image),
        ("embedded now", run.extraction.embedded if run.extraction else 0),
        ("points in the index", run.total_points),
        ("model", run.model_id),
        ("seconds", f"{run.seconds:.1f}"),
    ):
        table.add_row(name, str(value))
    console.print(table)
    if run.extraction and run.extraction.failures:
        for uri, kind, reason in run.extraction.failures[:5]:
            console.print(f"  [yellow]{kind}[/] {uri}: {reason}", highlight=False)
