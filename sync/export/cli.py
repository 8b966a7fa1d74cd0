"""``winnow export``: write a versioned data set, or verify a published one."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from winnow.cli.console import console, fail, progress_bar
from winnow.config import Settings, get_settings


def export(
    project: int | None = typer.Option(None, "--project", "-p", help="Label Studio project id"),
    folder: Path | None = typer.Option(
        None, "--dir", exists=True, file_okay=False, help="export a class-folder data set instead"
    ),
    out: str | None = typer.Option(None, "--out", "-o", help="a directory or s3://bucket/prefix"),
    version: str | None = typer.Option(None, help="X.Y; default: next minor after the newest"),
    formats: str | None = typer.Option(
        None, "--format", "-f", help="comma-separated: folders,manifest,coco,yolo,webdataset"
    ),
    verify: str | None = typer.Option(None, "--verify", help="check a published version at DEST"),
    group_by: str | None = typer.Option(None, help="records column whose values share a split"),
    time_aware: bool = typer.Option(False, "--time-aware", help="newest images go to test"),
    title: str | None = typer.Option(None, help="title of the dataset card"),
    kind: str = typer.Option("auto", help="auto | classification | multi_label | detection"),
    embed: bool = typer.Option(True, help="--dir: embeddings for near duplicates and labels"),
) -> None:
    """Write a versioned data set (folders, manifest, COCO/YOLO, WebDataset, card) or verify one."""
    settings = get_settings()
    if verify is not None:
        _verify(verify, settings, version)
        return
    if kind not in ("auto", "classification", "multi_label", "detection"):
        raise typer.BadParameter(f"unknown kind {kind!r}", param_hint="--kind")
    if (project is None) == (folder is None) or out is None:
        fail("give --out and exactly one of --project or --dir (or --verify DEST)", code=2)
    frame, name = _records(settings, project, folder, embed)
    chosen = tuple(f.strip() for f in formats.split(",") if f.strip()) if formats else None
    source = ["--project", str(project)] if project is not None else ["--dir", str(folder)]
    if folder is not None and not embed:
        source.append("--no-embed")
    _run(
        frame,
        out,
        settings,
        version=version,
        formats=chosen,
        group_by=group_by,
        time_aware=time_aware,
        title=title or name,
        source=source,
        kind=resolve_kind(kind, settings, project),
        from_folder=folder is not None,
    )


def resolve_kind(kind: str, settings: Settings, project: int | None) -> str | None:
    """``--kind auto``: the project's labeling config decides multi-label (see
    ``project_kind``); otherwise the records do."""
    if kind != "auto":
        return kind
    if project is not None:
        from sync.export.sources import project_kind

        return project_kind(settings, project)
    return None


def _records(settings: Settings, project: int | None, folder: Path | None, embed: bool):
    from sync.export.sources import folder_records, project_records

    if project is not None:
        console.print(f"pulling project {project} from Label Studio ...")
        return project_records(settings, project), f"Label Studio project {project}"
    if folder is None:
        fail("give --project or --dir", code=2)
    return folder_records(
        folder, settings, embed=embed, progress=progress_bar
    ), folder.resolve().name


def _run(frame, out: str, settings: Settings, **kwargs) -> None:  # type: ignore[no-untyped-def]
    from sync.export.plan import ExportOptions
    from sync.export.sources import export_records, image_folders

    options = ExportOptions(
        formats=kwargs["formats"],
        group_by=kwargs["group_by"],
        time_aware=kwargs["time_aware"],
        kind=kwargs["kind"],
    )
    result = export_records(
        frame,
        out,
        settings,
        # a folder the operator named may be read; a project's task paths may not
        trusted_roots=image_folders(frame) if kwargs["from_folder"] else (),
        options=options,
        version=kwargs["version"],
        title=kwargs["title"],
        source=kwargs["source"],
        progress=progress_bar,
    )
    _summary(result)


def _summary(result) -> None:  # type: ignore[no-untyped-def]
    table = Table(title=f"Export {result.version}", show_header=False)
    table.add_row("kind", result.kind)
    table.add_row("formats", ", ".join(result.formats))
    for split, n in result.manifest["split"].value_counts().items():
        table.add_row(f"images: {split}", str(n))
    for reason, n in result.excluded["reason"].value_counts().items():
        table.add_row(f"left out: {reason}", str(n))
    table.add_row("files", str(result.files))
    table.add_row("size", f"{result.bytes / 1e6:.1f} MB")
    rate = len(result.manifest) / result.seconds if result.seconds else 0.0
    table.add_row("time", f"{result.seconds:.1f} s ({rate:.0f} images/s)")
    console.print(table)
    console.print(
        f"published: {result.url}\ncard: {result.url}/DATASET_CARD.md",
        highlight=False,
        soft_wrap=True,
    )


def _verify(dest: str, settings: Settings, version: str | None) -> None:
    from sync.export.verify import verify_export

    report = verify_export(dest, settings, version=version)
    if report.ok:
        console.print(
            f"[green]ok[/] {report.url}: {report.files_checked} files match their checksums",
            highlight=False,
        )
        return
    for problem in report.problems[:50]:
        console.print(f"  {problem}", highlight=False)
    fail(f"{report.url}: {len(report.problems)} problems")
