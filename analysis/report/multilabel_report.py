"""The model report for multi-label projects (``<Choices choice="multiple">``): per-class
ROC/AUC and PR/AP with micro and macro averages, per-class thresholds tuned on held-out
probabilities, label cardinality and co-occurrence, cleanliness, learning curve, a label
shuffle check and the readiness checklist.

Models are ``fit(x (n, D), y bool (n, K), seed) -> predict_proba`` with ``predict_proba(x)
-> (m, K)`` independent per-class probabilities. Thresholds are tuned on out-of-fold
probabilities of the training rows (K-fold, the same ``fit``), never on the held-out rows
the report scores, so the effect shown is what tuning buys on unseen data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from sklearn.model_selection import KFold

from analysis.report import multilabel_figures as figs
from analysis.report import multilabel_metrics as mm
from analysis.report.html import render_model_page
from analysis.report.readiness import CheckItem, verdict

PredictFn = Callable[[np.ndarray], np.ndarray]
MultiFitFn = Callable[[np.ndarray, np.ndarray, int], PredictFn]
SECTIONS = ("comparison", "thresholds", "labels", "cleanliness", "size", "sanity", "readiness")
TRAINED = "trained (one-vs-rest linear head)"
FRACTIONS = (0.10, 0.25, 0.50, 1.0)
SEEDS = (0, 1, 2)
N_FOLDS = 5


@dataclass(frozen=True)
class MultiLabelSplit:
    """Embeddings and bool label matrices ``(n, K)`` of the training and held-out rows."""

    classes: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    how: str


@dataclass(frozen=True)
class ShuffleCheck:
    macro_auroc: float  # held-out macro AUROC of a model trained on permuted label sets
    limit: float  # 0.5 plus three standard deviations of one class's AUROC under no signal
    passed: bool


@dataclass
class MultiLabelReport:
    title: str
    split: MultiLabelSplit
    metrics: dict[str, mm.MultiLabelMetrics]
    unavailable: dict[str, str]
    thresholds: np.ndarray  # (K,) tuned on out-of-fold training probabilities
    effect: pd.DataFrame  # mm.threshold_effect on the held-out rows
    cardinality: pd.DataFrame  # images per label count, one column per split
    cooccurrence: np.ndarray  # (K, K) over training and held-out rows
    cleanliness: pd.DataFrame  # rows raw/cleaned: n_train, macro_ap, micro_f1
    curve: pd.DataFrame  # fraction, seed, n_train, macro_ap, micro_f1
    shuffle: ShuffleCheck
    n_label_issues: int
    figures: dict[str, go.Figure] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({name: m.summary() for name, m in self.metrics.items()}).T


def build_multilabel_report(
    split: MultiLabelSplit,
    fit: MultiFitFn,
    *,
    others: dict[str, np.ndarray | str],
    train_issue: np.ndarray,
    test_issue: np.ndarray,
    seeds: Sequence[int] = SEEDS,
    n_folds: int = N_FOLDS,
    title: str = "Model report (multi-label)",
) -> MultiLabelReport:
    """``others``: model name -> held-out probabilities ``(n_test, K)`` in ``split.classes``
    order, or why that model is unavailable. ``train_issue``/``test_issue`` bool: rows the
    multi-label label-issue audit flagged."""
    s = split
    y_train, y_test = np.asarray(s.y_train, bool), np.asarray(s.y_test, bool)
    probs = {TRAINED: fit(s.x_train, y_train, 0)(s.x_test)}
    probs |= {name: p for name, p in others.items() if not isinstance(p, str)}
    metrics = {name: mm.multilabel_metrics(y_test, p) for name, p in probs.items()}
    thresholds = mm.tune_thresholds(y_train, out_of_fold(fit, s.x_train, y_train, n_folds))
    effect = mm.threshold_effect(y_test, probs[TRAINED], thresholds, s.classes)
    both = np.vstack([y_train, y_test])
    cardinality = pd.DataFrame(
        {"train": mm.label_cardinality(y_train), "held-out": mm.label_cardinality(y_test)}
    ).fillna(0)
    report = MultiLabelReport(
        title=title,
        split=s,
        metrics=metrics,
        unavailable={name: p for name, p in others.items() if isinstance(p, str)},
        thresholds=thresholds,
        effect=effect,
        cardinality=cardinality.astype(int),
        cooccurrence=mm.cooccurrence(both),
        cleanliness=cleanliness(fit, s, train_issue=train_issue, test_issue=test_issue),
        curve=learning_curve(fit, s, seeds=seeds),
        shuffle=shuffle_check(fit, s),
        n_label_issues=int(np.sum(train_issue) + np.sum(test_issue)),
    )
    report.figures = {
        f"roc_{i}": figs.roc_curves(y_test, p, s.classes, name)
        for i, (name, p) in enumerate(probs.items())
    }
    report.figures |= {
        f"pr_{i}": figs.pr_curves(y_test, p, s.classes, name)
        for i, (name, p) in enumerate(probs.items())
    }
    report.figures |= {
        "auroc": figs.score_bars(metrics, s.classes, "auroc"),
        "ap": figs.score_bars(metrics, s.classes, "ap"),
        "thresholds": figs.threshold_bars(effect),
        "cardinality": figs.cardinality(report.cardinality),
        "cooccurrence": figs.cooccurrence(report.cooccurrence, s.classes),
    }
    return report


def out_of_fold(
    fit: MultiFitFn, x: np.ndarray, y: np.ndarray, n_folds: int = N_FOLDS
) -> np.ndarray:
    """Probabilities ``(n, K)`` of every row from a model that did not see it."""
    out = np.zeros(y.shape, dtype=float)
    folds = KFold(n_splits=min(n_folds, len(x)), shuffle=True, random_state=0)
    for seed, (train, test) in enumerate(folds.split(x)):
        out[test] = fit(x[train], y[train], seed)(x[test])
    return out


def _scores(predict: PredictFn, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    m = mm.multilabel_metrics(y, predict(x))
    return m.macro_ap, m.micro_f1


def cleanliness(
    fit: MultiFitFn, s: MultiLabelSplit, *, train_issue: np.ndarray, test_issue: np.ndarray
) -> pd.DataFrame:
    """Trained on every training row and on the rows not flagged, both scored on the
    held-out rows not flagged."""
    keep_train = ~np.asarray(train_issue, bool)
    keep_test = ~np.asarray(test_issue, bool)
    xt, yt = s.x_test[keep_test], np.asarray(s.y_test, bool)[keep_test]
    y = np.asarray(s.y_train, bool)
    rows = {}
    for name, keep in (("raw", np.ones(len(y), bool)), ("cleaned", keep_train)):
        ap, f1 = _scores(fit(s.x_train[keep], y[keep], 0), xt, yt)
        rows[name] = {"n_train": int(keep.sum()), "n_test": len(yt), "macro_ap": ap, "micro_f1": f1}
    return pd.DataFrame(rows).T


def learning_curve(
    fit: MultiFitFn,
    s: MultiLabelSplit,
    *,
    fractions: Sequence[float] = FRACTIONS,
    seeds: Sequence[int] = SEEDS,
) -> pd.DataFrame:
    """Held-out macro AP and micro F1 when training on a random ``fraction`` of the training
    rows, once per seed (label sets make per-class stratification of a subset ill-posed;
    a class absent from a subset is predicted as absent)."""
    rows = []
    y = np.asarray(s.y_train, bool)
    for fraction in fractions:
        for seed in seeds if fraction < 1.0 else seeds[:1]:
            n = max(2, round(fraction * len(y)))
            take = np.sort(np.random.default_rng(seed).choice(len(y), size=n, replace=False))
            ap, f1 = _scores(fit(s.x_train[take], y[take], seed), s.x_test, s.y_test)
            rows.append(
                {"fraction": fraction, "seed": seed, "n_train": n, "macro_ap": ap, "micro_f1": f1}
            )
    return pd.DataFrame(rows)


def shuffle_check(fit: MultiFitFn, s: MultiLabelSplit, *, seed: int = 0) -> ShuffleCheck:
    """Train on label sets permuted across images: a held-out macro AUROC well above 0.5
    means the evaluation leaks labels. The limit uses the largest per-class standard
    deviation of AUROC under no signal, sqrt((n+ + n- + 1) / (12 n+ n-)), so it is a
    conservative bound for the mean over classes."""
    y = np.asarray(s.y_train, bool)
    permuted = y[np.random.default_rng(seed).permutation(len(y))]
    m = mm.multilabel_metrics(s.y_test, fit(s.x_train, permuted, seed)(s.x_test))
    pos = np.asarray(s.y_test, bool).sum(axis=0).astype(float)
    neg = len(s.y_test) - pos
    valid = (pos > 0) & (neg > 0)
    if not valid.any():
        return ShuffleCheck(m.macro_auroc, float("nan"), True)
    sd = np.sqrt((pos + neg + 1) / (12 * pos * neg))[valid].max()
    limit = 0.5 + 3.0 * float(sd)
    return ShuffleCheck(m.macro_auroc, limit, bool(m.macro_auroc <= limit))


def render_multilabel_report(
    report: MultiLabelReport,
    *,
    checklist: list[CheckItem],
    preprocessing: str = "",
    fingerprint: str = "",
    plotlyjs: str = "compressed",
    generated: str | None = None,
) -> str:
    """The page, in the single-label report's look and with the same data attributes."""
    return render_model_page(
        "multilabel.html.j2",
        report,
        curve_metrics={
            "macro_ap_mean": ("macro_ap", "mean"),
            "macro_ap_std": ("macro_ap", "std"),
            "micro_f1_mean": ("micro_f1", "mean"),
        },
        checklist=checklist,
        verdict=verdict(checklist),
        plotlyjs=plotlyjs,
        generated=generated,
        sections=SECTIONS,
        preprocessing=preprocessing,
        fingerprint=fingerprint,
    )
