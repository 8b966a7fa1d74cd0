"""Plotly figures of the model report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.report.data_figures import palette_colour, styled_layout
from analysis.report.metrics import ClassificationMetrics


def confusion(metrics: ClassificationMetrics, classes: list[str], name: str) -> go.Figure:
    """Row-normalised confusion matrix; cell text is the count."""
    counts = metrics.confusion
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = counts / counts.sum(axis=1, keepdims=True)
    fig = go.Figure(
        go.Heatmap(
            z=np.nan_to_num(rates),
            x=classes,
            y=classes,
            zmin=0,
            zmax=1,
            colorscale="Blues",
            text=counts,
            texttemplate="%{text}",
            colorbar={"title": "row share"},
        )
    )
    fig.update_yaxes(autorange="reversed", title="true")
    fig.update_xaxes(title="predicted")
    side = max(380, 26 * len(classes) + 160)
    return styled_layout(fig, f"Confusion matrix: {name}", height=side)


def reliability(models: dict[str, ClassificationMetrics]) -> go.Figure:
    """Accuracy against confidence per bin for every model; the diagonal is perfect calibration."""
    fig = go.Figure(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dash", "color": "#888"}
        )
    )
    for i, (name, m) in enumerate(models.items()):
        rel = m.reliability
        filled = rel.count > 0
        fig.add_trace(
            go.Scatter(
                x=rel.confidence[filled],
                y=rel.accuracy[filled],
                mode="lines+markers",
                name=f"{name} (ECE {m.ece:.3f})",
                marker={
                    "size": 6 + 14 * np.sqrt(rel.count[filled] / rel.count.max()),
                    "color": palette_colour(i),
                },
                text=[f"{c} images" for c in rel.count[filled]],
            )
        )
    return styled_layout(
        fig,
        "Reliability diagram",
        xaxis={"title": "confidence", "range": [0, 1]},
        yaxis={"title": "accuracy", "range": [0, 1.02]},
        height=440,
    )


def auroc_bars(models: dict[str, ClassificationMetrics], classes: list[str]) -> go.Figure:
    fig = go.Figure(
        [
            go.Bar(name=name, x=classes, y=m.auroc, marker_color=palette_colour(i))
            for i, (name, m) in enumerate(models.items())
        ]
    )
    return styled_layout(
        fig,
        "Per-class AUROC (one-vs-rest)",
        barmode="group",
        yaxis={"range": [0, 1], "title": "AUROC"},
    )


def learning_curve(curve: pd.DataFrame) -> go.Figure:
    """Mean test accuracy and macro F1 over seeds, with the min-max range as error bars."""
    g = curve.groupby("fraction")
    fig = go.Figure()
    for i, metric in enumerate(("accuracy", "macro_f1")):
        mean, low, high = g[metric].mean(), g[metric].min(), g[metric].max()
        n = g["n_train"].mean().round().astype(int)
        fig.add_trace(
            go.Scatter(
                x=100 * mean.index,
                y=mean,
                mode="lines+markers",
                name=metric.replace("_", " "),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": high - mean,
                    "arrayminus": mean - low,
                },
                marker_color=palette_colour(i),
                text=[f"{k} training images" for k in n],
            )
        )
    return styled_layout(
        fig,
        "Learning curve",
        xaxis={"title": "% of the training split", "tickvals": list(100 * mean.index)},
        yaxis={"title": "score", "range": [0, 1.02]},
        legend={"orientation": "h", "y": -0.25},
    )
