"""Plotly figures of the data report. Each function takes computed frames and returns a figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis.report.eda import split_order, with_groups

TEMPLATE = "plotly_white"
_HEIGHT = 360


def styled_layout(fig: go.Figure, title: str, *, height: int = _HEIGHT, **kw: object) -> go.Figure:
    fig.update_layout(
        title=title,
        template=TEMPLATE,
        height=height,
        margin={"l": 60, "r": 40, "t": 60, "b": 50},
        title_font_size=14,
        **kw,
    )
    return fig


def class_counts(counts: pd.DataFrame) -> go.Figure:
    """Stacked bars: files per class, one colour per split."""
    fig = go.Figure(
        [
            go.Bar(name=split, x=counts.index, y=counts[split])
            for split in counts.columns
            if split != "total"
        ]
    )
    return styled_layout(
        fig, "Files per class and split", barmode="stack", xaxis_title="class", yaxis_title="files"
    )


def class_shares(shares: pd.DataFrame) -> go.Figure:
    """Heatmap: share of each class within each split (columns sum to 1)."""
    z = shares.to_numpy(float)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(shares.columns),
            y=list(shares.index),
            colorscale="Blues",
            zmin=0,
            text=np.round(z, 3),
            texttemplate="%{text:.0%}",
            colorbar={"title": "share"},
        )
    )
    fig.update_yaxes(autorange="reversed")
    return styled_layout(
        fig, "Class balance per split", height=max(_HEIGHT, 24 * len(shares) + 120)
    )


def size_histograms(files: pd.DataFrame) -> go.Figure:
    """Width, height and aspect ratio (width / height) histograms of the readable files."""
    f = with_groups(files)
    f = f[f["readable"]]
    fig = make_subplots(
        rows=1, cols=3, subplot_titles=("width (px)", "height (px)", "aspect (w/h)")
    )
    for col, values in enumerate([f["width"], f["height"], f["width"] / f["height"]], start=1):
        fig.add_trace(
            go.Histogram(x=values, nbinsx=40, showlegend=False, marker_color="#4c78a8"),
            row=1,
            col=col,
        )
    return styled_layout(fig, "Image sizes")


def quality_histograms(files: pd.DataFrame) -> go.Figure:
    """Blur (log10 Laplacian variance), brightness and contrast, overlaid per split."""
    f = with_groups(files)
    f = f[f["readable"]]
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=(
            "sharpness: log10 Laplacian variance (low = blurry)",
            "brightness",
            "contrast",
        ),
    )
    for i, split in enumerate(split_order(f["split"])):
        part = f[f["split"] == split]
        values = [np.log10(part["blur"].astype(float) + 1.0), part["brightness"], part["contrast"]]
        for col, v in enumerate(values, start=1):
            fig.add_trace(
                go.Histogram(
                    x=v,
                    name=split,
                    legendgroup=split,
                    showlegend=col == 1,
                    opacity=0.6,
                    nbinsx=40,
                    marker_color=palette_colour(i),
                ),
                row=1,
                col=col,
            )
    return styled_layout(fig, "Quality distributions", barmode="overlay")


def channel_bars(stats: pd.DataFrame) -> go.Figure:
    """RGB channel means with standard deviations as error bars, per split."""
    fig = go.Figure()
    for c, colour in zip("rgb", ("#d62728", "#2ca02c", "#1f77b4"), strict=True):
        fig.add_trace(
            go.Bar(
                name=c.upper(),
                x=list(stats.index),
                y=stats[f"mean_{c}"],
                error_y={"type": "data", "array": stats[f"std_{c}"]},
                marker_color=colour,
            )
        )
    return styled_layout(fig, "Channel mean ± std per split", barmode="group", yaxis_range=[0, 1])


def embedding_scatter(
    files: pd.DataFrame,
    rows: np.ndarray,
    coords: np.ndarray,
    flags: pd.Series,
    method: str,
    *,
    marked: set[str],
) -> go.Figure:
    """2-D embedding map, one colour per class; files in ``marked`` drawn as crosses. Hover
    lists every finding (``flags``: uri -> text)."""
    f = with_groups(files).iloc[rows].reset_index(drop=True)
    flagged = flags.reindex(f["uri"]).fillna("").to_numpy()
    cross = f["uri"].isin(marked).to_numpy()
    names = f["uri"].map(lambda u: str(u).rsplit("/", 1)[-1])
    fig = go.Figure()
    for i, label in enumerate(f["label"].value_counts().index):
        for is_marked in (False, True):
            m = (f["label"] == label).to_numpy() & (cross == is_marked)
            if not m.any():
                continue
            hover = [
                f"{n}<br>{label} / {s}" + (f"<br>⚑ {fl}" if fl else "")
                for n, s, fl in zip(names[m], f["split"][m], flagged[m], strict=True)
            ]
            fig.add_trace(
                go.Scattergl(
                    x=coords[m, 0],
                    y=coords[m, 1],
                    mode="markers",
                    name=label + (" ⚑" if is_marked else ""),
                    legendgroup=label,
                    text=hover,
                    hoverinfo="text",
                    marker={
                        "color": palette_colour(i),
                        "size": 10 if is_marked else 6,
                        "symbol": "x" if is_marked else "circle",
                        "line": {"width": 1, "color": "black"} if is_marked else None,
                    },
                )
            )
    return styled_layout(
        fig,
        f"Embeddings ({method.upper()}); crosses: label issues, outliers, duplicates",
        height=620,
        xaxis={"visible": False},
        yaxis={"visible": False},
    )


def duplicate_heatmap(matrix: pd.DataFrame) -> go.Figure:
    z = matrix.to_numpy(float)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(matrix.columns),
            y=list(matrix.index),
            colorscale="Reds",
            zmin=0,
            zmax=max(float(z.max()), 1.0),
            text=z.astype(int),
            texttemplate="%{text}",
            colorbar={"title": "pairs"},
        )
    )
    fig.update_yaxes(autorange="reversed")
    return styled_layout(
        fig, "Near-duplicate pairs between splits", height=max(300, 60 * len(matrix) + 140)
    )


_PALETTE = (
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#eeca3b",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
    "#bab0ac",
    "#1f77b4",
    "#8c564b",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
)


def palette_colour(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]
