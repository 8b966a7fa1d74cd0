"""Class balance: how the labels are spread, and which classes are too small to learn or audit.

A class is *under the minimum* when it has fewer than ``min_count`` examples (too few for a
K-fold model to see it in every fold, or for a reviewer to trust) or a share below
``min_relative_share / K``: Cleanlab Datalab's class-imbalance rule (default 0.1, i.e. a
tenth of the share it would have if the classes were balanced).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.validation import check_float, check_indices, check_int

MIN_COUNT = 10
MIN_RELATIVE_SHARE = 0.1  # cleanlab.datalab ClassImbalanceIssueManager's default threshold


@dataclass(frozen=True)
class ClassBalance:
    """``counts`` int64 ``(K,)``; ``shares`` float ``(K,)`` summing to 1; ``imbalance_ratio``
    largest / smallest non-empty class (1.0 when balanced); ``under_minimum`` int64 class
    indices, smallest first (empty classes included); ``names`` the class names."""

    counts: np.ndarray
    shares: np.ndarray
    imbalance_ratio: float
    under_minimum: np.ndarray
    names: tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        """One row per class, largest first: name, count, share, under_minimum."""
        frame = pd.DataFrame(
            {
                "name": self.names,
                "count": self.counts,
                "share": self.shares,
                "under_minimum": np.isin(np.arange(len(self.counts)), self.under_minimum),
            }
        )
        return frame.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)


def class_balance(
    labels: np.ndarray,
    *,
    n_classes: int | None = None,
    class_names: list[str] | tuple[str, ...] | None = None,
    min_count: int = MIN_COUNT,
    min_relative_share: float = MIN_RELATIVE_SHARE,
) -> ClassBalance:
    """Counts and shares of int ``labels`` ``(N,)``, N >= 1, in ``[0, K)``.

    ``K`` is ``n_classes``, else ``len(class_names)``, else ``labels.max() + 1``; classes with
    no example count as empty (and under the minimum).
    """
    y = check_indices(labels, "labels", (None,), np.iinfo(np.int64).max)
    if y.size == 0:
        raise ValueError("labels must hold at least one label")
    k = _n_classes(y, n_classes, class_names)
    min_count = check_int(min_count, "min_count", 0)
    min_relative_share = check_float(min_relative_share, "min_relative_share", 0.0, 1.0)
    counts = np.bincount(y, minlength=k).astype(np.int64)
    shares = counts / counts.sum()
    nonzero = counts[counts > 0]
    small = (counts < min_count) | (shares < min_relative_share / k)
    under = np.flatnonzero(small)
    under = under[np.argsort(counts[under], kind="stable")].astype(np.int64)
    names = tuple(class_names) if class_names is not None else tuple(str(i) for i in range(k))
    return ClassBalance(counts, shares, float(nonzero.max() / nonzero.min()), under, names)


def _n_classes(y: np.ndarray, n_classes: int | None, names: object) -> int:
    seen = int(y.max()) + 1
    if n_classes is None and names is not None:
        n_classes = len(names)  # type: ignore[arg-type]
    if n_classes is None:
        return seen
    n_classes = check_int(n_classes, "n_classes", 1)
    if seen > n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}), got a label {seen - 1}")
    if names is not None and len(names) != n_classes:  # type: ignore[arg-type]
        raise ValueError(f"class_names has {len(names)} names for {n_classes} classes")  # type: ignore[arg-type]
    return n_classes
