"""A 2-D map of the embeddings for the data report: UMAP (umap-learn) or t-SNE (scikit-learn).

Both run on at most ``max_points`` rows (a seeded random subset beyond that): UMAP on 2 cores
takes seconds for a few thousand points, plus ~10 s of JIT compilation on first use.
"""

from __future__ import annotations

import warnings

import numpy as np

METHODS = ("umap", "tsne")
MAX_POINTS = 5000


def project_2d(
    vectors: np.ndarray, *, method: str = "umap", seed: int = 0, max_points: int = MAX_POINTS
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, coords)``: the int64 row indices projected, and float32 ``(M, 2)`` coordinates.

    ``vectors`` float ``(N, D)``, N >= 3. Neighbourhood sizes shrink for tiny sets.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or len(x) < 3:
        raise ValueError(f"need (N, D) vectors with N >= 3, got shape {x.shape}")
    rows = np.arange(len(x))
    if len(x) > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
    x = x[rows]
    if method == "umap":
        import umap

        with warnings.catch_warnings():  # "n_jobs overridden by setting random_state": intended
            warnings.simplefilter("ignore", UserWarning)
            reducer = umap.UMAP(n_neighbors=min(15, len(x) - 1), metric="cosine", random_state=seed)
            coords = reducer.fit_transform(x)
    else:
        from sklearn.manifold import TSNE

        coords = TSNE(
            perplexity=min(30.0, (len(x) - 1) / 3), init="pca", random_state=seed, metric="cosine"
        ).fit_transform(x)
    return rows.astype(np.int64), np.asarray(coords, dtype=np.float32)
