"""Outliers: images far from every other image in embedding space (Cleanlab's kNN OOD score).

The score of an image is ``exp(-d / median(d))``, ``d`` its mean cosine distance to its ``k``
nearest neighbours (Cleanlab ``OutOfDistribution`` on features): 1 in a dense region, towards
0 for an image unlike anything else. An image is flagged when ``d`` exceeds
``Q3 + (1 / threshold - 1) * IQR`` of all ``d``, Cleanlab Datalab's rule with its default
``threshold = 0.37037`` (Q3 + 1.7 IQR): relative to the data set, as a box-plot whisker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from cleanlab.outlier import OutOfDistribution

from analysis.validation import check_embeddings, check_float, check_int

OUTLIER_THRESHOLD = 0.37037  # cleanlab.datalab OutlierIssueManager.DEFAULT_THRESHOLDS["features"]
_TINY = np.finfo(np.float64).tiny


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
    embeddings: np.ndarray, *, k: int = 10, threshold: float = OUTLIER_THRESHOLD
) -> Outliers:
    """Score and flag outliers among ``embeddings`` ``(N, D)``, N > ``k``.

    Brute-force cosine kNN (scikit-learn, as Cleanlab builds it): O(N^2 D). For N beyond tens
    of thousands, reduce D first (PCA) or pass fewer, representative rows.
    """
    x = check_embeddings(embeddings, "embeddings")
    if len(x) < 2:
        raise ValueError(f"embeddings must have at least 2 rows to have neighbours, got {len(x)}")
    k = check_int(k, "k", 1, len(x) - 1)
    threshold = check_float(threshold, "threshold", 1e-6, 1.0)
    ood = OutOfDistribution(params={"k": k})
    score = np.clip(ood.fit_score(features=x, verbose=False), 0.0, 1.0)
    # d / median(d) = -log(score); the IQR rule is scale-free, so it can run on that directly.
    dist = -np.log(np.maximum(score, _TINY))
    q1, q3 = np.percentile(dist, [25, 75])
    limit = q3 + (1.0 / threshold - 1.0) * (q3 - q1)
    is_outlier = dist > limit
    flagged = np.flatnonzero(is_outlier)
    ranked = flagged[np.argsort(score[flagged], kind="stable")].astype(np.int64)
    return Outliers(score, is_outlier, ranked, float(np.exp(-limit)))
