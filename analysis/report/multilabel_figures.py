"""Plotly figures of the multi-label model report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.metrics import precision_recall_curve, roc_curve

from analysis.report.data_figures import palette_colour, styled_layout
from analysis.report.multilabel_metrics import MultiLabelMetrics


def roc_curves(y: np.ndarray, probs: np.ndarray, classes: list[str], name: str) -> go.Figure:
    """One ROC curve per class that has positives and negatives, plus the micro curve."""
    fig = go.Figure(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance", line={"dash": "dash"})
    )
    for k, c in enumerate(classes):
        if 0 < y[:, k].sum() < len(y):
            fpr, tpr, _ = roc_curve(y[:, k], probs[:, k])
            fig.add_trace(
                go.Scatter(x=fpr, y=tpr, mode="lines", name=c, line={"color": palette_colour(k)})
            )
    if 0 < y.sum() < y.size:
        fpr, tpr, _ = roc_curve(y.ravel(), probs.ravel())
        fig.add_trace(
            go.Scatter(x=fpr, y=tpr, mode="lines", name="micro", line={"width": 4, "color": "#000"})
        )
    return styled_layout(
        fig,
        f"ROC per class: {name}",
        xaxis={"title": "false positive rate", "range": [0, 1]},
        yaxis={"title": "true positive rate", "range": [0, 1.02]},
        height=460,
    )


def pr_curves(y: np.ndarray, probs: np.ndarray, classes: list[str], name: str) -> go.Figure:
    """One precision-recall curve per class with positives, plus the micro curve."""
    fig = go.Figure()
    for k, c in enumerate(classes):
        if y[:, k].any():
            precision, recall, _ = precision_recall_curve(y[:, k], probs[:, k])
            fig.add_trace(
                go.Scatter(
                    x=recall, y=precision, mode="lines", name=c, line={"color": palette_colour(k)}
                )
            )
    if y.any():
        precision, recall, _ = precision_recall_curve(y.ravel(), probs.ravel())
        fig.add_trace(
            go.Scatter(
                x=recall,
                y=precision,
                mode="lines",
                name="micro",
                line={"width": 4, "color": "#000"},
            )
        )
    return styled_layout(
        fig,
        f"Precision-recall per class: {name}",
        xaxis={"title": "recall", "range": [0, 1]},
        yaxis={"title": "precision", "range": [0, 1.02]},
        height=460,
    )


def score_bars(models: dict[str, MultiLabelMetrics], classes: list[str], metric: str) -> go.Figure:
    """Per-class ``metric`` ("auroc" or "ap") side by side for every model."""
    title = {"auroc": "AUROC", "ap": "average precision"}[metric]
    fig = go.Figure(
        [
            go.Bar(name=name, x=classes, y=getattr(m, metric), marker_color=palette_colour(i))
            for i, (name, m) in enumerate(models.items())
        ]
    )
    return styled_layout(
        fig, f"Per-class {title}", barmode="group", yaxis={"range": [0, 1], "title": title}
    )


def threshold_bars(effect: pd.DataFrame) -> go.Figure:
    """F1 per class (and micro/macro) at 0.5 and at the tuned thresholds."""
    fig = go.Figure(
        [
            go.Bar(name="threshold 0.5", x=effect.index, y=effect["f1_at_0.5"]),
            go.Bar(name="tuned threshold", x=effect.index, y=effect["f1_tuned"]),
        ]
    )
    return styled_layout(
        fig, "F1 at 0.5 and at tuned thresholds", barmode="group", yaxis={"range": [0, 1]}
    )


def cardinality(counts: pd.DataFrame) -> go.Figure:
    """Images per number of labels; ``counts`` has one column per split."""
    fig = go.Figure(
        [
            go.Bar(name=str(split), x=counts.index, y=counts[split], marker_color=palette_colour(i))
            for i, split in enumerate(counts.columns)
        ]
    )
    return styled_layout(
        fig,
        "Label cardinality",
        barmode="group",
        xaxis={"title": "labels per image", "dtick": 1},
        yaxis={"title": "images"},
    )


def cooccurrence(matrix: np.ndarray, classes: list[str]) -> go.Figure:
    """Images carrying both classes; colour is the count over the row class's count
    (P(column | row)), the cell text the count."""
    diag = np.diag(matrix).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = matrix / diag[:, None]
    fig = go.Figure(
        go.Heatmap(
            z=np.nan_to_num(share),
            x=classes,
            y=classes,
            zmin=0,
            zmax=1,
            colorscale="Blues",
            text=matrix,
            texttemplate="%{text}",
            colorbar={"title": "P(col | row)"},
        )
    )
    fig.update_yaxes(autorange="reversed")
    side = max(380, 26 * len(classes) + 160)
    return styled_layout(fig, "Label co-occurrence", height=side)
