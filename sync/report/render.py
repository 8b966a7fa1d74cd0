"""Glue between the report inputs and the pure report code: load thumbnails, write files."""

from __future__ import annotations

from pathlib import Path

from analysis.report.data_report import build_data_report, render_data_report
from sync.report.inputs import ReportInputs, load_images, thumbnails
from winnow.config import Settings


def write_data_report(
    inputs: ReportInputs,
    settings: Settings,
    out: Path,
    *,
    projection: str = "umap",
    plotlyjs: str = "compressed",
) -> Path:
    result = inputs.result
    report = build_data_report(
        result.files,
        result.issues,
        vectors=inputs.vectors,
        projection=projection,
        title=f"Data report: {inputs.source}",
        label_estimate=result.label_estimate,
        label_reviews=inputs.label_reviews,
    )
    uris = report.files["uri"]
    images = load_images(inputs.read, [(i, uris[i]) for i in report.thumbnail_rows()], settings)
    html = render_data_report(report, thumbnails(images), plotlyjs=plotlyjs)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
