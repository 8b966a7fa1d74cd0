"""Multi-label classification metrics: what the model report shows when an image may carry
several classes at once.

Every class is its own yes/no question, scored by ``probs[:, k]`` (sigmoid outputs; rows
need not sum to 1). AUROC and average precision (AP, the area under the precision-recall
curve) come from scikit-learn per class, micro (every (image, class) cell pooled) and macro
(the mean over classes). Macro means skip classes that have no positive or no negative in
the truth, where a per-class score is undefined (scikit-learn would raise); when every
class has both, they equal scikit-learn's ``average="macro"``.

A per-class decision threshold is tuned on held-out probabilities (F1-optimal on the
precision-recall curve) and applied to the test probabilities, so the report shows what
tuning buys over the fixed 0.5 without tuning on the test set itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

from analysis.validation import check_label_matrix, check_pred_probs

DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class MultiLabelMetrics:
    n: int
    prevalence: np.ndarray  # (K,) share of images carrying each class
    auroc: np.ndarray  # (K,) NaN where the class has no positive or no negative
    ap: np.ndarray  # (K,) average precision, NaN where the class has no positive
    micro_auroc: float
    macro_auroc: float
    micro_ap: float
    macro_ap: float
    f1: np.ndarray  # (K,) at DEFAULT_THRESHOLD
    micro_f1: float
    macro_f1: float
    subset_accuracy: float  # share of images whose whole predicted set is exactly right

    def summary(self) -> dict[str, float]:
        return {
            "n": self.n,
            "micro_auroc": self.micro_auroc,
            "macro_auroc": self.macro_auroc,
            "micro_ap": self.micro_ap,
            "macro_ap": self.macro_ap,
            "micro_f1": self.micro_f1,
            "macro_f1": self.macro_f1,
            "subset_accuracy": self.subset_accuracy,
        }


def check_multilabel(y_true: object, probs: object) -> tuple[np.ndarray, np.ndarray]:
    """(bool ``(N, K)``, float ``(N, K)``) checked for shape and range."""
    p = check_pred_probs(probs, "probs", rows_sum_to_one=False)
    y = check_label_matrix(y_true, "y_true", len(p), n_classes=p.shape[1])
    return y.astype(bool), p


def multilabel_metrics(y_true: np.ndarray, probs: np.ndarray) -> MultiLabelMetrics:
    """Metrics of ``probs`` float ``(N, K)`` against 0/1 ``y_true`` ``(N, K)``."""
    y, p = check_multilabel(y_true, probs)
    pred = p >= DEFAULT_THRESHOLD
    auroc, ap = per_class_scores(y, p)
    return MultiLabelMetrics(
        n=len(y),
        prevalence=y.mean(axis=0),
        auroc=auroc,
        ap=ap,
        micro_auroc=_micro(roc_auc_score, y, p),
        macro_auroc=_nanmean(auroc),
        micro_ap=_micro(average_precision_score, y, p),
        macro_ap=_nanmean(ap),
        f1=f1_score(y, pred, average=None, zero_division=0),
        micro_f1=float(f1_score(y, pred, average="micro", zero_division=0)),
        macro_f1=float(f1_score(y, pred, average="macro", zero_division=0)),
        subset_accuracy=float((pred == y).all(axis=1).mean()),
    )


def per_class_scores(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class AUROC and AP ``(K,)``; NaN where undefined (see the module docstring)."""
    k = p.shape[1]
    auroc, ap = np.full(k, np.nan), np.full(k, np.nan)
    for c in range(k):
        positives = int(y[:, c].sum())
        if positives:
            ap[c] = average_precision_score(y[:, c], p[:, c])
            if positives < len(y):
                auroc[c] = roc_auc_score(y[:, c], p[:, c])
    return auroc, ap


def tune_thresholds(y_true: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per-class threshold ``(K,)`` maximising F1 on these (held-out) probabilities.

    The threshold is the midpoint between the F1-optimal score and the next lower score, so
    it does not sit exactly on one example. A class without positives keeps 0.5.
    """
    y, p = check_multilabel(y_true, probs)
    out = np.full(p.shape[1], DEFAULT_THRESHOLD)
    for c in range(p.shape[1]):
        if not y[:, c].any():
            continue
        precision, recall, cuts = precision_recall_curve(y[:, c], p[:, c])
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.nan_to_num(2 * precision * recall / (precision + recall))[:-1]
        cut = cuts[int(np.argmax(f1))]
        lower = p[:, c][p[:, c] < cut]
        out[c] = (cut + lower.max()) / 2 if len(lower) else cut
    return out


def threshold_effect(
    y_true: np.ndarray, probs: np.ndarray, thresholds: np.ndarray, classes: list[str]
) -> pd.DataFrame:
    """Per class, and micro/macro: F1, precision and recall at 0.5 and at ``thresholds``.

    Rows: the classes, then ``micro`` and ``macro``; columns ``threshold, f1_at_0.5,
    f1_tuned, precision_at_0.5, precision_tuned, recall_at_0.5, recall_tuned``.
    """
    y, p = check_multilabel(y_true, probs)
    t = np.asarray(thresholds, dtype=float)
    if t.shape != (p.shape[1],):
        raise ValueError(f"thresholds must have shape ({p.shape[1]},), got {t.shape}")
    preds = {"at_0.5": p >= DEFAULT_THRESHOLD, "tuned": p >= t[None, :]}
    frame = pd.DataFrame(index=[*classes, "micro", "macro"])
    frame["threshold"] = [*t, np.nan, np.nan]
    for metric in ("f1", "precision", "recall"):
        score = _SCORES[metric]
        for name, pred in preds.items():
            frame[f"{metric}_{name}"] = [
                *score(y, pred, average=None, zero_division=0),
                score(y, pred, average="micro", zero_division=0),
                score(y, pred, average="macro", zero_division=0),
            ]
    return frame


def label_cardinality(y_true: np.ndarray) -> pd.Series:
    """Images per number of labels (0, 1, 2, ... up to the largest seen)."""
    sizes = np.asarray(y_true, dtype=bool).sum(axis=1)
    counts = np.bincount(sizes, minlength=1)
    return pd.Series(counts, index=pd.RangeIndex(len(counts), name="labels"), name="images")


def cooccurrence(y_true: np.ndarray) -> np.ndarray:
    """``(K, K)`` counts of images carrying both classes; the diagonal is each class's count."""
    y = np.asarray(y_true, dtype=np.int64)
    return y.T @ y


def _micro(score, y: np.ndarray, p: np.ndarray) -> float:
    if not y.any() or y.all():
        return float("nan")
    return float(score(y.ravel(), p.ravel()))


def _nanmean(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


_SCORES = {"f1": f1_score, "precision": precision_score, "recall": recall_score}
