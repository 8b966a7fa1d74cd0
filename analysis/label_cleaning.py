"""Acting on flagged labels, and measuring what it buys: performance against cleanliness.

Two ways to act on the label-issue queue: **drop** the flagged examples, or **relabel** them
with the model's suggestion (:func:`clean_labels`). Dropping loses the true positives' images
along with their wrong labels; relabelling keeps them but turns every false flag into a new
error, so which one pays depends on the queue's precision. Both are measured by training the
same light head on each version of the labels:

- with known truth (injected noise, ``benchmarks/cleanliness.py``): one :class:`CurvePoint`
  per (noise, rate, training-set fraction, seed, labels), scored on clean held-out labels and
  gathered in a :class:`CleanlinessCurve`;
- on a project, where nobody knows the truth (:func:`cleaning_gain`): K-fold, each fold's
  model trained on raw or cleaned training-fold labels and scored on the held-out fold's
  labels that were *not* flagged, the only labels the audit vouches for.

The light head is the audit's own probe (:mod:`analysis.label_issues`: PCA to 256
dimensions, standardisation, logistic regression with strong L2), fitted on the training rows
only: it trains in a second where the project's linear head takes a minute at 4,000 images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from analysis.label_issues import C_DEFAULT, PCA_DIM
from analysis.validation import check_choice, check_embeddings, check_int, check_labels

MODES = ("raw", "drop", "relabel")
PredictFn = Callable[[np.ndarray], np.ndarray]  # x (m, D) -> probabilities (m, K)
FitFn = Callable[[np.ndarray, np.ndarray, int], PredictFn]  # (x, y, seed) -> predict


def clean_labels(
    labels: np.ndarray,
    flagged: np.ndarray,
    *,
    mode: str,
    suggested: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The training rows and labels after acting on the flags: ``(rows int64 (M,), labels
    int64 (M,))``.

    ``labels`` int ``(N,)``; ``flagged`` bool ``(N,)`` or int indices; ``mode``: "raw" keeps
    everything, "drop" removes the flagged rows, "relabel" gives them ``suggested`` int
    ``(N,)`` (required for that mode).
    """
    y = np.asarray(labels, dtype=np.int64)
    mode = check_choice(mode, "mode", MODES)
    mask = _mask(flagged, len(y))
    rows = np.arange(len(y), dtype=np.int64)
    if mode == "raw":
        return rows, y.copy()
    if mode == "drop":
        return rows[~mask], y[~mask]
    if suggested is None:
        raise ValueError("suggested is required for mode 'relabel'")
    s = np.asarray(suggested, dtype=np.int64)
    if s.shape != y.shape:
        raise ValueError(f"suggested: shape {s.shape}, expected {y.shape}")
    return rows, np.where(mask, s, y)


def _mask(flagged: np.ndarray, n: int) -> np.ndarray:
    arr = np.asarray(flagged)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"flagged: shape {arr.shape}, expected ({n},)")
        return arr
    if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"flagged: indices must be integers in [0, {n})")
    mask = np.zeros(n, dtype=bool)
    mask[arr.astype(np.int64)] = True
    return mask


def light_head(n_classes: int, *, C: float = C_DEFAULT, pca_dim: int = PCA_DIM) -> FitFn:
    """``fit(x (n, D), y (n,), seed) -> predict_proba`` with ``(m, n_classes)`` columns; a
    class absent from ``y`` gets probability 0."""
    k = check_int(n_classes, "n_classes", 2)

    def fit(x: np.ndarray, y: np.ndarray, seed: int) -> PredictFn:
        present = np.unique(y)
        steps = [StandardScaler(), LogisticRegression(C=C, max_iter=300, tol=1e-3)]
        if pca_dim < min(x.shape):
            steps.insert(0, PCA(pca_dim, svd_solver="randomized", random_state=seed))
        model = make_pipeline(*steps).fit(x, y) if len(present) > 1 else None

        def predict(xq: np.ndarray) -> np.ndarray:
            out = np.zeros((len(xq), k))
            if model is None:
                out[:, present[0]] = 1.0
            else:
                out[:, model.classes_] = model.predict_proba(xq)
            return out

        return predict

    return fit


def scores(predict: PredictFn, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(accuracy, macro F1) of ``predict`` on ``x``, ``y``."""
    pred = predict(x).argmax(axis=1)
    return float(accuracy_score(y, pred)), float(
        f1_score(y, pred, average="macro", zero_division=0)
    )


@dataclass(frozen=True)
class CurvePoint:
    """One model: trained on ``labels`` ("raw", "drop", "relabel", "true", ...) of a training
    set with ``rate`` of ``noise`` injected, cut to ``fraction`` of its rows; ``n_train``
    rows after cleaning; scored on clean held-out labels."""

    noise: str
    rate: float
    fraction: float
    seed: int
    labels: str
    n_train: int
    accuracy: float
    macro_f1: float


@dataclass(frozen=True)
class CleanlinessCurve:
    """Accuracy against cleanliness (noise rate, how the labels were cleaned) and size."""

    points: tuple[CurvePoint, ...]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(p) for p in self.points])

    def table(self, metric: str = "accuracy") -> pd.DataFrame:
        """Mean ``metric`` over seeds: rows (noise, rate, fraction), one column per labels."""
        f = self.frame()
        out = f.pivot_table(
            index=["noise", "rate", "fraction"], columns="labels", values=metric, aggfunc="mean"
        )
        order = [c for c in ("raw", "drop", "relabel", "true") if c in out.columns]
        return out[order + [c for c in out.columns if c not in order]]

    def gap_closed(self, labels: str) -> pd.Series:
        """Share of the raw-to-true accuracy gap that ``labels`` closes, per row of
        :meth:`table` (1: as good as the true labels, 0: no better than raw, < 0: worse; NaN
        where raw and true are within 0.002, a gap too small to share out)."""
        t = self.table()
        gap = t["true"] - t["raw"]
        return ((t[labels] - t["raw"]) / gap.where(gap.abs() > 0.002)).rename(labels)


@dataclass(frozen=True)
class CleaningGain:
    """Cross-validated accuracy per mode on the held-out rows that were not flagged.

    ``n`` labelled rows, ``n_flagged`` flagged, ``n_scored`` scored (unflagged), ``folds``.
    """

    n: int
    n_flagged: int
    n_scored: int
    folds: int
    accuracy: dict[str, float]

    def gain(self, mode: str) -> float:
        """Accuracy of ``mode`` minus raw."""
        return self.accuracy[mode] - self.accuracy["raw"]

    @property
    def best(self) -> str:
        """The cleaning mode with the larger gain ("drop" on ties)."""
        return max(("drop", "relabel"), key=self.gain)


def cleaning_gain(
    embeddings: np.ndarray,
    labels: np.ndarray,
    flagged: np.ndarray,
    suggested: np.ndarray,
    *,
    fit: FitFn,
    n_folds: int = 5,
    seed: int = 0,
) -> CleaningGain:
    """What acting on ``flagged`` buys a model trained on ``embeddings`` ``(N, D)``.

    Each fold's model is trained on the other folds' labels, raw, with the flagged ones
    dropped, or relabelled to ``suggested`` int ``(N,)``, and scored on the fold's unflagged
    rows. Those labels are unverified too, so this is what the audit expects, not a truth:
    the injected-noise curve (:class:`CleanlinessCurve`) is the measured one.
    """
    x = check_embeddings(embeddings, "embeddings")
    y, _ = check_labels(labels, "labels", len(x))
    mask = _mask(flagged, len(y))
    suggested = np.asarray(suggested, dtype=np.int64)
    if suggested.shape != y.shape:
        raise ValueError(f"suggested: shape {suggested.shape}, expected {y.shape}")
    n_folds = check_int(n_folds, "n_folds", 2, len(y))
    n_folds = min(n_folds, int(np.bincount(y).max()))
    correct = {m: 0 for m in MODES}
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = list(splitter.split(x, y)) if n_folds >= 2 else []
    if not folds:
        raise ValueError("labels: too few examples per class to cross-validate")
    for train, test in folds:
        scored = test[~mask[test]]
        for mode in MODES:
            rows, y_mode = clean_labels(
                y[train], mask[train], mode=mode, suggested=suggested[train]
            )
            pred = fit(x[train][rows], y_mode, seed)(x[scored]).argmax(axis=1)
            correct[mode] += int((pred == y[scored]).sum())
    n_scored = int((~mask).sum())
    accuracy = {m: c / max(n_scored, 1) for m, c in correct.items()}
    return CleaningGain(len(y), int(mask.sum()), n_scored, len(folds), accuracy)
