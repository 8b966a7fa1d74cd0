"""Embedding near-duplicates: pairs of items whose cosine similarity reaches a threshold.

``embedding_neighbors`` is exact and quadratic in compute (N²/2 dot products: 50,000 x 256-d
is about 3e11 multiply-adds) but blocked: it multiplies (block, D) by (D, block) tiles of the
upper triangle only, so memory is O(block² + pairs) whatever N is, and the work runs in BLAS.
Past a few hundred thousand items, ask the vector index (Qdrant) for each item's k nearest
neighbours and turn the answer into the same pairs with ``embedding_neighbors_from_knn``; that
finds every pair as long as no item has more than k neighbours above the threshold.
"""

from __future__ import annotations

import numpy as np

from analysis.validation import (
    MAX_PAIRS,
    check_float,
    check_indices,
    check_int,
    check_max_pairs,
    check_scores,
    check_unit_rows,
)


def embedding_neighbors(
    vectors: np.ndarray,
    *,
    threshold: float,
    block: int = 4096,
    max_pairs: int | None = MAX_PAIRS,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)``, i < j, of L2-normalised ``vectors`` (N, D) with cosine >= ``threshold``.

    ``threshold`` is in [-1, 1]; ``block`` rows are multiplied at a time (memory about
    4 * block² bytes); more than ``max_pairs`` pairs (None: no limit) raise ValueError.
    Returns int64 pairs (P, 2) sorted by i then j, and their float32 cosines (P,).
    """
    v = check_unit_rows(vectors, "vectors")
    threshold = check_float(threshold, "threshold", -1.0, 1.0)
    block = check_int(block, "block", 1)
    max_pairs = check_max_pairs(max_pairs)
    found, sims, total = [], [], 0
    for a in range(0, len(v), block):
        for b in range(a, len(v), block):
            tile = v[a : a + block] @ v[b : b + block].T
            i, j = np.nonzero(tile >= threshold)
            if a == b:
                i, j = i[i < j], j[i < j]
            total += len(i)
            if max_pairs is not None and total > max_pairs:
                raise ValueError(
                    f"more than max_pairs={max_pairs} pairs reach cosine {threshold}; "
                    "raise the threshold or max_pairs"
                )
            found.append(np.stack([i + a, j + b], axis=1))
            sims.append(tile[i, j])
    return _sorted(found, sims)


def embedding_neighbors_from_knn(
    indices: np.ndarray, sims: np.ndarray, *, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Unique pairs ``(i, j)``, i < j, from a k-nearest-neighbour answer over the same N items.

    ``indices`` (N, k): row i lists item i's neighbours, -1 where the index returned fewer
    than k (i itself is ignored). ``sims`` (N, k): their cosines. A pair reported from both
    ends keeps the higher cosine (approximate indexes may differ slightly). Returns int64
    pairs (P, 2) sorted by i then j, and float32 cosines (P,).
    """
    idx = check_indices(indices, "indices", (None, None), len(np.asarray(indices)), low=-1)
    n, k = idx.shape
    sim = check_scores(np.asarray(sims).reshape(-1), "sims", n * k)
    if np.asarray(sims).shape != idx.shape:
        raise ValueError(f"sims must have the shape of indices {idx.shape}, got {np.shape(sims)}")
    threshold = check_float(threshold, "threshold", -1.0, 1.0)
    rows, cols = np.repeat(np.arange(n), k), idx.reshape(-1)
    keep = (cols >= 0) & (cols != rows) & (sim >= threshold)
    i, j = np.minimum(rows, cols)[keep], np.maximum(rows, cols)[keep]
    key, sim = i * np.int64(n) + j, sim[keep]
    order = np.lexsort((-sim, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    chosen = order[first]
    pairs = np.stack([i[chosen], j[chosen]], axis=1)
    return pairs, sim[chosen].astype(np.float32)


def _sorted(found: list[np.ndarray], sims: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if not found:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float32)
    pairs = np.concatenate(found).astype(np.int64)
    sim = np.concatenate(sims).astype(np.float32)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order], sim[order]
