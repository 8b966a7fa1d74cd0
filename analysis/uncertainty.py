"""Uncertainty scores for active learning: which unlabeled task should a person label next?

Every score lies in [0, 1] and LOW means MOST INFORMATIVE, because Label Studio Community can
only sort tasks by prediction score, ascending puts the lowest first, and the most uncertain
task should be at the top of the queue. 0 is "the model cannot tell", 1 is "fully confident".

With ``p1 >= p2 >= ...`` the sorted probabilities of one row over ``K`` classes:

- ``least_confidence``: ``(p1 - 1/K) / (1 - 1/K)``, the top probability stretched from
  ``[1/K, 1]`` to ``[0, 1]`` so scores of projects with different K compare.
- ``margin`` (the default): ``p1 - p2``. It looks at the two classes the model hesitates
  between, which is what a labeler resolves, and is the most robust of the three in published
  active-learning comparisons on image classification.
- ``entropy``: ``1 - H(p) / log K``, the normalised Shannon entropy taken from 1.

For K = 2 the three give the same ordering, and ``least_confidence`` equals ``margin``.

Multi-label rows hold one independent probability per class (they need not sum to 1). Each
class is scored as its own binary problem ``(p_k, 1 - p_k)`` with the chosen method (margin
and least confidence both give ``|2 p_k - 1|``, the distance from the 0.5 threshold; entropy
gives one minus the binary entropy in bits), and ``reduce`` folds the classes into one score:

- ``min`` (the default): the most uncertain class; a task is as informative as the label the
  labeler is least sure the model gets right. Same order as the maximum binary entropy.
- ``mean``: all classes count; with margin it is the mean distance of the probabilities from
  the threshold (the "sum of distances" score, scaled to [0, 1]), with entropy the mean
  binary entropy.

Why ``min``: ``benchmarks/active_learning.py --multi-label`` (Fashion-MNIST 2 x 2 mosaics,
pixel features, the one-vs-rest linear head, 5 seeds) found every reduction within seed
noise of the others (macro AP 0.634 to 0.641 at 215 labels, 0.694 to 0.697 at 500), and all
slightly above random at 500 labels (+0.007 to +0.010, min above random on every seed). The
measurement does not separate them, so the default is chosen on argument: ``min`` follows
the one decision a labeler resolves, while ``mean`` is diluted by the many classes a task
plainly lacks (most of K terms are confident negatives), and ``min`` is what projects were
already scored with. The threshold is 0.5, where a calibrated probability is least decided.
"""

from __future__ import annotations

import numpy as np

from analysis.validation import check_choice, check_pred_probs, check_shape

METHODS = ("least_confidence", "margin", "entropy")
DEFAULT_METHOD = "margin"
REDUCTIONS = ("min", "mean")
DEFAULT_REDUCTION = "min"


def uncertainty_score(
    probs: np.ndarray,
    method: str = DEFAULT_METHOD,
    *,
    multi_label: bool = False,
    reduce: str = DEFAULT_REDUCTION,
) -> np.ndarray:
    """Scores ``(N,)`` in [0, 1] of probabilities ``(N, K)``; low = most informative.

    Single-label rows must sum to 1 (within 1e-3) over K >= 2 classes; multi-label rows hold
    K >= 1 independent probabilities, folded over classes by ``reduce`` (``min`` or
    ``mean``, ignored for single-label rows); N = 0 gives an empty array (an empty chunk).
    Raises ValueError naming the problem (shape, NaN, a probability outside [0, 1], a row
    that does not sum to 1, an unknown method) and TypeError for a non-float array.
    """
    method = check_choice(method, "method", METHODS)
    reduce = check_choice(reduce, "reduce", REDUCTIONS)
    if multi_label:
        p = _check_probs(probs, min_classes=1)
        binary = np.stack([p.ravel(), 1.0 - p.ravel()], axis=1)
        per_class = _score(binary, method).reshape(p.shape)
        return per_class.min(axis=1) if reduce == "min" else per_class.mean(axis=1)
    if len(_check_probs(probs, min_classes=2)) == 0:
        return np.zeros(0)
    return _score(check_pred_probs(probs, "probs", rows_sum_to_one=True), method)


def _score(p: np.ndarray, method: str) -> np.ndarray:
    """Scores of valid single-label rows ``(N, K)``, K >= 2."""
    k = p.shape[1]
    if method == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
        score = 1.0 - h / np.log(k)
    else:
        top2 = -np.partition(-p, 1, axis=1)[:, :2]
        if method == "margin":
            score = top2[:, 0] - top2[:, 1]
        else:  # least_confidence
            score = (top2[:, 0] - 1.0 / k) / (1.0 - 1.0 / k)
    return np.clip(score, 0.0, 1.0)


def _check_probs(probs: object, *, min_classes: int) -> np.ndarray:
    """Finite probabilities ``(N, K)``, K >= ``min_classes``, as float64 (N = 0 is allowed)."""
    arr = np.asarray(probs)
    if arr.dtype.kind != "f":
        raise TypeError(f"probs must be a float array, got dtype {arr.dtype}")
    check_shape(arr, "probs", (None, None))
    if arr.shape[1] < min_classes:
        raise ValueError(f"probs must be (N, K) with K >= {min_classes}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("probs must be finite; it holds NaN or inf")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(
            f"probs must hold probabilities in [0, 1], got values in [{arr.min()}, {arr.max()}]"
        )
    return arr.astype(np.float64)
