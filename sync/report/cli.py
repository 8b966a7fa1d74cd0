"""``winnow report data|model``: the HTML data report and model report of a folder or project."""

from __future__ import annotations

from pathlib import Path

import typer

from winnow.cli.console import console, fail, progress_bar
from winnow.config import get_settings

report = typer.Typer(help="Render the data and model HTML reports.", no_args_is_help=True)

_DIR = typer.Option(None, "--dir", exists=True, file_okay=False, help="folder of images")
_PROJECT = typer.Option(None, "--project", help="Label Studio project id")
_LAYOUT = typer.Option("auto", help="folder layout: auto | class | split/class | flat")
_PLOTLYJS = typer.Option("compressed", help="compressed (small, modern browsers) | plain")


def _inputs(folder: Path | None, project: int | None, layout: str):
    from sync.report.inputs import folder_inputs, project_inputs

    if (folder is None) == (project is None):
        fail("give exactly one of --dir and --project")
    if layout not in ("auto", "class", "split/class", "flat"):
        raise typer.BadParameter(f"unknown layout {layout!r}", param_hint="--layout")
    settings = get_settings()
    if folder is not None:
        return settings, folder_inputs(folder, settings, layout=layout, progress=progress_bar)  # type: ignore[arg-type]
    return settings, project_inputs(settings, project)


@report.command("data")
def data(
    folder: Path | None = _DIR,
    project: int | None = _PROJECT,
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write"),
    projection: str = typer.Option("umap", help="embedding map: umap | tsne"),
    layout: str = _LAYOUT,
    plotlyjs: str = _PLOTLYJS,
) -> None:
    """EDA of a data set: composition, metadata, quality, galleries, embeddings, duplicates."""
    from sync.report.render import write_data_report

    if projection not in ("umap", "tsne"):
        raise typer.BadParameter("umap or tsne", param_hint="--projection")
    settings, inputs = _inputs(folder, project, layout)
    path = write_data_report(inputs, settings, out, projection=projection, plotlyjs=plotlyjs)
    console.print(f"data report: {path} ({path.stat().st_size / 1e6:.1f} MB)", highlight=False)


@report.command("model")
def model(
    folder: Path | None = _DIR,
    project: int | None = _PROJECT,
    out: Path = typer.Option(Path("model.html"), "--out", "-o", help="HTML file to write"),
    card: Path | None = typer.Option(None, help="export directory holding DATASET_CARD.md"),
    data_report: Path | None = typer.Option(
        None, help="the data report of this data (default: report.html next to --out)"
    ),
    layout: str = _LAYOUT,
    plotlyjs: str = _PLOTLYJS,
    gradcam: int = typer.Option(6, help="Grad-CAM examples per group (correct, wrong); 0 = off"),
) -> None:
    """Trained classifier vs zero-shot, cleanliness, learning curve, sanity checks, readiness."""
    from sync.report.model import write_model_report

    settings, inputs = _inputs(folder, project, layout)
    data_report = data_report or out.with_name("report.html")
    path, go = write_model_report(
        inputs,
        settings,
        out,
        card=card,
        data_report=data_report,
        project=project,
        plotlyjs=plotlyjs,
        gradcam=gradcam,
    )
    verdict = "[green]GO[/]" if go else "[red]NO-GO[/]"
    console.print(f"model report: {path} ({path.stat().st_size / 1e6:.1f} MB), readiness {verdict}")
