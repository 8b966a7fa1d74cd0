"""Classification metrics of one model on one held-out split: what the model report shows.

Accuracy, macro precision/recall/F1, confusion matrix and per-class one-vs-rest AUROC come
from scikit-learn; the reliability diagram and the expected calibration error (ECE, top-label,
equal-width confidence bins as in Guo et al. 2017) are computed here because scikit-learn has
no ECE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from analysis.validation import check_labels, check_pred_probs

N_BINS = 10


@dataclass(frozen=True)
class Reliability:
    """Per confidence bin: ``edges`` ``(B+1,)``, mean ``confidence``, ``accuracy`` and
    ``count`` ``(B,)`` (NaN confidence/accuracy for empty bins)."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray


@dataclass(frozen=True)
class ClassificationMetrics:
    n: int
    accuracy: float
    macro_precision: float
    macro_recall: float
    macro_f1: float
    auroc: np.ndarray  # (K,) one-vs-rest; NaN where the class is absent (or alone) in y_true
    confusion: np.ndarray  # (K, K) rows = true class, columns = predicted class
    reliability: Reliability
    ece: float

    def summary(self) -> dict[str, float]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_precision": self.macro_precision,
            "macro_recall": self.macro_recall,
            "macro_f1": self.macro_f1,
            "macro_auroc": _nanmean(self.auroc),
            "ece": self.ece,
        }


def classification_metrics(
    y_true: np.ndarray, probs: np.ndarray, *, n_bins: int = N_BINS
) -> ClassificationMetrics:
    """Metrics of ``probs`` float ``(N, K)`` (rows sum to 1) against int ``y_true`` ``(N,)``."""
    p = check_pred_probs(probs, "probs", rows_sum_to_one=True)
    y, k = check_labels(y_true, "y_true", len(p), n_classes=p.shape[1])
    pred = p.argmax(axis=1)
    labels = np.arange(k)
    # scikit-learn's default: macro over the classes present in y_true or in the predictions
    prec, rec, f1, _ = precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
    return ClassificationMetrics(
        n=len(y),
        accuracy=float(accuracy_score(y, pred)),
        macro_precision=float(prec),
        macro_recall=float(rec),
        macro_f1=float(f1),
        auroc=per_class_auroc(y, p),
        confusion=confusion_matrix(y, pred, labels=labels),
        reliability=reliability(y, p, n_bins=n_bins),
        ece=expected_calibration_error(y, p, n_bins=n_bins),
    )


def per_class_auroc(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """One-vs-rest AUROC per class ``(K,)``; NaN when a class has no positive or no negative."""
    out = np.full(probs.shape[1], np.nan)
    for c in range(probs.shape[1]):
        positive = y == c
        if positive.any() and not positive.all():
            out[c] = roc_auc_score(positive, probs[:, c])
    return out


def reliability(y: np.ndarray, probs: np.ndarray, *, n_bins: int = N_BINS) -> Reliability:
    """Top-label confidence vs accuracy in ``n_bins`` equal-width bins over [0, 1]."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # right-closed bins, the first one also holds 0: (0, 0.1], (0.1, 0.2], ...
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, conf, minlength=n_bins) / count
        acc = np.bincount(which, correct, minlength=n_bins) / count
    return Reliability(edges, mean_conf, acc, count)


def expected_calibration_error(y: np.ndarray, probs: np.ndarray, *, n_bins: int = N_BINS) -> float:
    """ECE: the count-weighted mean |accuracy - confidence| over the reliability bins."""
    rel = reliability(np.asarray(y), np.asarray(probs, dtype=float), n_bins=n_bins)
    filled = rel.count > 0
    gaps = np.abs(rel.accuracy[filled] - rel.confidence[filled])
    return float((gaps * rel.count[filled]).sum() / rel.count.sum())


def _nanmean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
