"""Outliers: images far from every other image in embedding space (Cleanlab's kNN OOD score).

The score of an image is ``exp(-d / median(d))``, ``d`` its mean cosine distance to its ``k``
nearest neighbours (Cleanlab ``OutOfDistribution`` on features): 1 in a dense region, towards
0 for an image unlike anything else. An image is flagged when ``d`` exceeds
``Q3 + (1 / threshold - 1) * IQR`` of all ``d``, Cleanlab Datalab's rule with its default
``threshold = 0.37037`` (Q3 + 1.7 IQR): relative to the data set, as a box-plot whisker.

The neighbours come from a kNN answer, not an N x N matrix: the blocked exact search of
:func:`analysis.embedding_pairs.embedding_knn` (the one the duplicate check uses, so an audit
can pass the same answer to both) or a vector index. Cleanlab's own scoring builds scikit-learn
brute-force neighbours over all rows; tests keep it as the reference the scores must match.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import normalize

from analysis.embedding_pairs import embedding_knn
from analysis.validation import check_embeddings, check_float, check_int, check_shape

OUTLIER_K = 10  # neighbours per image (Cleanlab OutOfDistribution default)
OUTLIER_THRESHOLD = 0.37037  # cleanlab.datalab OutlierIssueManager.DEFAULT_THRESHOLDS["features"]
_TINY = np.finfo(np.float64).tiny
# Cleanlab's correct_precision_errors: a mean distance this small is an exact copy (score 1).
_COPY_DISTANCE = 100 * np.finfo(np.float64).epsneg


@dataclass(frozen=True)
class Outliers:
    """``score`` float ``(N,)`` in [0, 1], low = outlying; ``is_outlier`` bool ``(N,)``;
    ``ranked`` int64 ``(M,)`` the flagged indices, most outlying first; ``cutoff`` the score
    below which an image is flagged."""

    score: np.ndarray
    is_outlier: np.ndarray
    ranked: np.ndarray
    cutoff: float


def find_outliers(
    embeddings: np.ndarray,
    *,
    k: int = OUTLIER_K,
    threshold: float = OUTLIER_THRESHOLD,
    neighbor_sims: np.ndarray | None = None,
) -> Outliers:
    """Score and flag outliers among ``embeddings`` ``(N, D)``, N > ``k``.

    ``neighbor_sims`` ``(N, k')``, k' >= ``k``: each row's cosines to its nearest other rows,
    best first (an exact copy counts, at 1), when the caller already ran a kNN search;
    without it, :func:`~analysis.embedding_pairs.embedding_knn` runs here, in O(N * k) memory.
    """
    x = check_embeddings(embeddings, "embeddings")
    if len(x) < 2:
        raise ValueError(f"embeddings must have at least 2 rows to have neighbours, got {len(x)}")
    k = check_int(k, "k", 1, len(x) - 1)
    threshold = check_float(threshold, "threshold", 1e-6, 1.0)
    if neighbor_sims is None:
        neighbor_sims = embedding_knn(normalize(x), k=k)[1]
    sims = np.asarray(neighbor_sims, dtype=np.float64)
    check_shape(sims, "neighbor_sims", (len(x), None))
    if sims.shape[1] < k or not np.isfinite(sims).all():
        raise ValueError(f"neighbor_sims must hold at least k={k} finite columns per row")
    mean_dist = np.clip(1.0 - sims[:, :k], 0.0, 2.0).mean(axis=1)
    scale = max(float(np.median(mean_dist)), 100 * np.finfo(np.float64).eps)
    score = np.where(mean_dist < _COPY_DISTANCE, 1.0, np.exp(-mean_dist / scale))
    # d / median(d) = -log(score); the IQR rule is scale-free, so it can run on that directly.
    dist = -np.log(np.maximum(score, _TINY))
    q1, q3 = np.percentile(dist, [25, 75])
    limit = q3 + (1.0 / threshold - 1.0) * (q3 - q1)
    is_outlier = dist > limit
    flagged = np.flatnonzero(is_outlier)
    ranked = flagged[np.argsort(score[flagged], kind="stable")].astype(np.int64)
    return Outliers(score, is_outlier, ranked, float(np.exp(-limit)))
