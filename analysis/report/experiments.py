"""The model report's experiments: cleanliness, learning curve and the two sanity checks.

Every experiment takes a ``fit`` function, ``fit(x (n, D), y (n,), seed) -> predict_proba``
where ``predict_proba(x) -> (m, K)``, so the same code measures any model (the linear head
over cached embeddings in practice) and stays free of model code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

PredictFn = Callable[[np.ndarray], np.ndarray]
FitFn = Callable[[np.ndarray, np.ndarray, int], PredictFn]
FRACTIONS = (0.10, 0.25, 0.50, 1.0)
SEEDS = (0, 1, 2)
OVERFIT_PER_CLASS = 5
OVERFIT_PASS = 0.98  # "about 100%" training accuracy on the tiny subset


def _scores(predict: PredictFn, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    pred = predict(x).argmax(axis=1)
    return float(accuracy_score(y, pred)), float(
        f1_score(y, pred, average="macro", zero_division=0)
    )


def learning_curve(
    fit: FitFn,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    fractions: Sequence[float] = FRACTIONS,
    seeds: Sequence[int] = SEEDS,
) -> pd.DataFrame:
    """Test accuracy and macro F1 when training on a stratified ``fraction`` of the training
    rows, once per seed: one row per (fraction, seed). Each subset keeps at least one example
    of every class, so small fractions of small sets still see every class."""
    rows = []
    for fraction in fractions:
        for seed in seeds if fraction < 1.0 else seeds[:1]:
            take = stratified_subset(y_train, fraction, seed=seed)
            acc, f1 = _scores(fit(x_train[take], y_train[take], seed), x_test, y_test)
            rows.append(
                {
                    "fraction": fraction,
                    "seed": seed,
                    "n_train": len(take),
                    "accuracy": acc,
                    "macro_f1": f1,
                }
            )
    return pd.DataFrame(rows)


def stratified_subset(y: np.ndarray, fraction: float, *, seed: int) -> np.ndarray:
    """Sorted indices of about ``fraction`` of each class of ``y`` (at least one per class)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        n = max(1, round(fraction * len(members)))
        keep.append(rng.choice(members, size=n, replace=False))
    return np.sort(np.concatenate(keep))


@dataclass(frozen=True)
class ShuffleCheck:
    accuracy: float  # test accuracy of a model trained on permuted labels
    chance: float  # the best a label-blind classifier can expect: the majority share of test
    limit: float  # chance plus three binomial standard deviations
    passed: bool


def shuffle_check(
    fit: FitFn,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    seed: int = 0,
) -> ShuffleCheck:
    """Train on randomly permuted labels: if test accuracy stays well above chance, the
    evaluation leaks labels (duplicates across splits, labels in file names or features)."""
    y_perm = np.random.default_rng(seed).permutation(y_train)
    accuracy, _ = _scores(fit(x_train, y_perm, seed), x_test, y_test)
    chance = float(np.bincount(y_test).max() / len(y_test))
    limit = chance + 3.0 * float(np.sqrt(chance * (1.0 - chance) / len(y_test)))
    return ShuffleCheck(accuracy, chance, limit, accuracy <= limit)


@dataclass(frozen=True)
class OverfitCheck:
    n: int
    train_accuracy: float
    passed: bool


def overfit_check(
    fit: FitFn,
    x: np.ndarray,
    y: np.ndarray,
    *,
    per_class: int = OVERFIT_PER_CLASS,
    seed: int = 0,
) -> OverfitCheck:
    """Fit ``per_class`` examples of each class and score them on themselves: a model that
    cannot memorise a handful of examples is broken (bad features, labels or optimiser)."""
    rng = np.random.default_rng(seed)
    take = np.sort(
        np.concatenate(
            [
                rng.choice(
                    np.flatnonzero(y == c), size=min(per_class, int((y == c).sum())), replace=False
                )
                for c in np.unique(y)
            ]
        )
    )
    accuracy, _ = _scores(fit(x[take], y[take], seed), x[take], y[take])
    return OverfitCheck(len(take), accuracy, accuracy >= OVERFIT_PASS)


@dataclass(frozen=True)
class Cleanliness:
    n_train_raw: int
    n_train_clean: int
    n_test_clean: int
    raw_accuracy: float
    clean_accuracy: float
    raw_macro_f1: float
    clean_macro_f1: float


def cleanliness(
    fit: FitFn,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    train_issue: np.ndarray,
    test_issue: np.ndarray,
    seed: int = 0,
) -> Cleanliness:
    """The same model trained on all training labels and on those not flagged as label issues
    (``train_issue`` bool), both scored on the test rows not flagged (``test_issue``)."""
    keep_test = ~np.asarray(test_issue, dtype=bool)
    keep_train = ~np.asarray(train_issue, dtype=bool)
    xt, yt = x_test[keep_test], y_test[keep_test]
    raw = _scores(fit(x_train, y_train, seed), xt, yt)
    clean = _scores(fit(x_train[keep_train], y_train[keep_train], seed), xt, yt)
    return Cleanliness(
        len(y_train),
        int(keep_train.sum()),
        int(keep_test.sum()),
        raw[0],
        clean[0],
        raw[1],
        clean[1],
    )
