"""The model report: the trained classifier against zero-shot on one held-out split, the
cleanliness and data-size experiments, the sanity checks and the readiness checklist.

:func:`build_model_report` is pure given a ``fit`` function and the other models' held-out
probabilities; Grad-CAM images and the checklist come from the adapter (they need the
backbone and files on disk) and are passed to :func:`render_model_report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.label_cleaning import CleaningGain
from analysis.label_issue_estimate import QueueEstimate
from analysis.report import experiments as ex
from analysis.report import model_figures as figs
from analysis.report.html import render_model_page
from analysis.report.metrics import ClassificationMetrics, classification_metrics
from analysis.report.readiness import CheckItem, verdict

SECTIONS = ("comparison", "cleanliness", "size", "sanity", "gradcam", "readiness")
TRAINED = "trained (linear head)"


@dataclass(frozen=True)
class Split:
    """Embeddings and int labels of the training and held-out rows, and how they were chosen."""

    classes: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    how: str  # e.g. "the 'test' split" or "a stratified 25% sample (seed 0)"


@dataclass(frozen=True)
class AuditLabels:
    """The project's own audit of its labels: queue sizes ("likely", "possible"), the audit's
    estimate of their precision and recall, and the cross-validated accuracy of acting on the
    likely queue (:func:`analysis.label_cleaning.cleaning_gain`; None: not measured)."""

    n_likely: int
    n_possible: int
    estimate: QueueEstimate | None
    cleaning: CleaningGain | None


@dataclass
class ModelReport:
    title: str
    split: Split
    metrics: dict[str, ClassificationMetrics]
    unavailable: dict[str, str]  # model name -> why it is not compared
    cleanliness: ex.Cleanliness
    curve: pd.DataFrame
    shuffle: ex.ShuffleCheck
    overfit: ex.OverfitCheck
    n_label_issues: int
    figures: dict[str, go.Figure] = field(default_factory=dict)
    audit_labels: AuditLabels | None = None

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({name: m.summary() for name, m in self.metrics.items()}).T


def build_model_report(
    split: Split,
    fit: ex.FitFn,
    *,
    others: dict[str, np.ndarray | str],
    train_issue: np.ndarray,
    test_issue: np.ndarray,
    seeds: tuple[int, ...] = ex.SEEDS,
    title: str = "Model report",
    audit_labels: AuditLabels | None = None,
) -> ModelReport:
    """``others``: model name -> held-out probabilities ``(n_test, K)`` in ``split.classes``
    order, or a string saying why that model is unavailable. ``train_issue``/``test_issue``
    bool: rows flagged by the label-issue audit; ``audit_labels``: the audit's queues and
    what cleaning them buys, shown in the cleanliness section."""
    s = split
    probs = {TRAINED: fit(s.x_train, s.y_train, 0)(s.x_test)}
    probs |= {name: p for name, p in others.items() if not isinstance(p, str)}
    metrics = {name: classification_metrics(s.y_test, p) for name, p in probs.items()}
    report = ModelReport(
        title=title,
        split=s,
        metrics=metrics,
        unavailable={name: p for name, p in others.items() if isinstance(p, str)},
        cleanliness=ex.cleanliness(
            fit,
            s.x_train,
            s.y_train,
            s.x_test,
            s.y_test,
            train_issue=train_issue,
            test_issue=test_issue,
        ),
        curve=ex.learning_curve(fit, s.x_train, s.y_train, s.x_test, s.y_test, seeds=seeds),
        shuffle=ex.shuffle_check(fit, s.x_train, s.y_train, s.x_test, s.y_test),
        overfit=ex.overfit_check(fit, s.x_train, s.y_train),
        n_label_issues=int(np.sum(train_issue) + np.sum(test_issue)),
        audit_labels=audit_labels,
    )
    report.figures = {
        f"confusion_{i}": figs.confusion(m, s.classes, name)
        for i, (name, m) in enumerate(metrics.items())
    }
    report.figures |= {
        "reliability": figs.reliability(metrics),
        "auroc": figs.auroc_bars(metrics, s.classes),
        "learning_curve": figs.learning_curve(report.curve),
    }
    return report


@dataclass(frozen=True)
class CamExample:
    image: str  # data: URI of the overlay
    original: str  # data: URI of the network's input crop
    name: str
    true: str
    predicted: str
    confidence: float


def render_model_report(
    report: ModelReport,
    *,
    checklist: list[CheckItem],
    cams: dict[str, list[CamExample]],
    cam_note: str = "",
    preprocessing: str = "",
    fingerprint: str = "",
    plotlyjs: str = "compressed",
    generated: str | None = None,
) -> str:
    """The page. ``cams``: group title ("correct", "wrong") -> Grad-CAM examples."""
    return render_model_page(
        "model.html.j2",
        report,
        curve_metrics={
            "accuracy_mean": ("accuracy", "mean"),
            "accuracy_std": ("accuracy", "std"),
            "macro_f1_mean": ("macro_f1", "mean"),
        },
        checklist=checklist,
        verdict=verdict(checklist),
        plotlyjs=plotlyjs,
        generated=generated,
        sections=SECTIONS,
        cams=cams,
        cam_note=cam_note,
        preprocessing=preprocessing,
        fingerprint=fingerprint,
    )
