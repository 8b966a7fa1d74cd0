"""Embedding near-duplicates: pairs of items whose cosine similarity reaches a threshold.

``embedding_neighbors`` is exact and quadratic in compute (N²/2 dot products: 50,000 x 256-d
is about 3e11 multiply-adds) but blocked: it multiplies (block, D) by (D, block) tiles of the
upper triangle only, so memory is O(block² + pairs) whatever N is, and the work runs in BLAS.
Past a few hundred thousand items, ask the vector index (Qdrant) for each item's k nearest
neighbours and turn the answer into the same pairs with ``embedding_neighbors_from_knn``; that
finds every pair as long as no item has more than k neighbours above the threshold.

``embedding_knn`` is the same blocked product kept as each item's k best instead of a
threshold: one pass serves both the duplicate candidates and the outlier scores
(:mod:`analysis.outliers`), and ``knn_with_copies`` spreads an answer over distinct contents to
every file, exact copies included, without a second pass.
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


def embedding_knn(
    vectors: np.ndarray, *, k: int, block: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's ``k`` nearest other items by cosine, exact. ``vectors`` (N, D) L2-normalised.

    Tiles of the upper triangle only (each serves its rows and, transposed, its columns), and
    each row keeps a running top k, so memory is O(block² + N * k) rather than O(N²).
    Returns int64 indices (N, k) (-1 where N - 1 < k) and float32 cosines (N, k), best first.
    """
    v = check_unit_rows(vectors, "vectors")
    k = check_int(k, "k", 1)
    block = check_int(block, "block", 1)
    n = len(v)
    best_i = np.full((n, k), -1, np.int64)
    best_s = np.full((n, k), -np.inf, np.float32)
    for a in range(0, n, block):
        rows = slice(a, min(a + block, n))
        for b in range(a, n, block):
            cols = slice(b, min(b + block, n))
            tile = v[rows] @ v[cols].T
            if a == b:
                np.fill_diagonal(tile, -np.inf)
            _keep_best(best_i, best_s, rows, tile, b)
            if a != b:
                _keep_best(best_i, best_s, cols, np.ascontiguousarray(tile.T), a)
    order = np.argsort(-best_s, axis=1, kind="stable")
    best_s = np.take_along_axis(best_s, order, axis=1)
    best_i = np.take_along_axis(best_i, order, axis=1)
    best_i[~np.isfinite(best_s)] = -1
    return best_i, np.where(np.isfinite(best_s), best_s, -1.0).astype(np.float32)


def _keep_best(
    best_i: np.ndarray, best_s: np.ndarray, rows: slice, tile: np.ndarray, offset: int
) -> None:
    """Merge ``tile`` (R, C), the cosines of ``rows`` to items ``offset...``, into the top k."""
    k = best_s.shape[1]
    both = np.concatenate([best_s[rows], tile], axis=1)
    top = np.argpartition(-both, k - 1, axis=1)[:, :k]
    old = np.take_along_axis(best_i[rows], np.minimum(top, k - 1), axis=1)
    best_i[rows] = np.where(top < k, old, top - k + offset)
    best_s[rows] = np.take_along_axis(both, top, axis=1)


def knn_with_copies(
    sims: np.ndarray, indices: np.ndarray, codes: np.ndarray, *, k: int
) -> np.ndarray:
    """Each file's ``k`` best cosines to other files, from a kNN answer over distinct contents.

    ``sims``, ``indices`` (C, k') with k' >= k: each content's nearest other contents, best
    first (-1: none); ``codes`` (N,): each file's content. A file's nearest files are its exact
    copies (cosine 1), then each neighbour content once per file holding it, which is what a
    kNN over all N files would return. Returns float32 (N, k), -1 past the last neighbour.
    """
    codes = check_indices(codes, "codes", (None,), len(sims))
    count = np.bincount(codes, minlength=len(sims))
    per_content = np.full((len(sims), k), -1.0, np.float32)
    per_content[:, : min(k, sims.shape[1])] = sims[:, :k]
    weights = np.where(indices >= 0, count[np.maximum(indices, 0)], 1)
    odd = np.flatnonzero((count > 1) | (weights[:, :k] > 1).any(axis=1))
    for c in odd:  # only contents with copies, or near contents with copies
        row = np.concatenate([np.ones(count[c] - 1), np.repeat(sims[c], weights[c])])[:k]
        per_content[c] = np.pad(row, (0, k - len(row)), constant_values=-1.0)
    return per_content[codes]


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
