"""Near duplicates that survive crops: loose embedding candidates, then geometric verification.

Why: one cosine threshold cannot serve both ends. At 0.90 a 20% crop is missed one time in
five (cosine down to 0.79) while stereo pairs and video frames already pass (up to 0.99), and
on drawings such as letter stamps b and d pass too. So candidates come from a looser threshold,
bounded to each item's ``neighbors`` nearest embeddings (a kNN answer, O(N * k) pairs however
dense the data), and each candidate is kept only when local features agree on one homography
(:mod:`analysis.geometric`).

Cost: verification needs pixels, so the caller passes ``features``: item index -> ORB features
of its working copy (None when unreadable). Candidates run from the most similar down through
a union-find; a candidate whose items are already in one group (by an earlier verified pair or
a perceptual-hash pair passed as ``joined``) is not verified, because it cannot change the
groups. Features are computed at most once per item, and only for items that get verified.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.hierarchy import DisjointSet

from analysis.embedding_pairs import embedding_neighbors_from_knn
from analysis.geometric import (
    GeometricMatch,
    LocalFeatures,
    is_same_picture,
    local_features,
    match_features,
)
from analysis.validation import check_float, check_indices, check_int, check_unit_rows


@dataclass(frozen=True)
class VerifyOptions:
    """Thresholds of the verified search, chosen on benchmarks/near_duplicates.py."""

    candidate_cosine: float = 0.70  # embedding candidates from here up are verified
    neighbors: int = 10  # candidates per item: its k nearest embeddings
    accept_cosine: float | None = None  # at or above: kept without verification (None: never)
    min_inliers: int = 20  # RANSAC inliers needed (stereo pairs, other views: 11 to 46)
    min_ratio: float = 0.5  # inliers per ratio-test match (stereo 0.38-0.45; copies 0.62+)
    fallback_cosine: float = 0.90  # items without usable features: the plain cosine rule


@dataclass
class VerifiedPairs:
    """What the verified search kept, and what it cost."""

    pairs: np.ndarray  # int64 (P, 2), i < j: kept pairs
    sims: np.ndarray  # float32 (P,): their cosines
    matches: list[GeometricMatch | None]  # (P,): the evidence; None when not verified
    shapes: dict[int, tuple[int, int]] = field(default_factory=dict)  # item -> working copy
    candidates: int = 0  # candidate pairs at or above candidate_cosine
    verified: int = 0  # candidates that were matched geometrically
    skipped: int = 0  # candidates already inside one group


def embedding_knn(
    vectors: np.ndarray, *, k: int, block: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's ``k`` nearest other items by cosine: exact, blocked in both directions, so
    memory is O(block² + N * k) rather than O(N²). ``vectors`` (N, D) L2-normalised.

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
        for b in range(0, n, block):
            tile = v[rows] @ v[b : b + block].T
            if a == b:
                np.fill_diagonal(tile, -np.inf)
            cols = np.broadcast_to(np.arange(b, b + tile.shape[1]), tile.shape)
            all_s = np.concatenate([best_s[rows], tile], axis=1)
            all_i = np.concatenate([best_i[rows], cols], axis=1)
            top = np.argsort(-all_s, axis=1, kind="stable")[:, :k]
            best_s[rows] = np.take_along_axis(all_s, top, axis=1)
            best_i[rows] = np.take_along_axis(all_i, top, axis=1)
    best_i[~np.isfinite(best_s)] = -1
    return best_i, np.where(np.isfinite(best_s), best_s, -1.0).astype(np.float32)


def verified_neighbors(
    vectors: np.ndarray,
    features: Callable[[int], LocalFeatures | None],
    *,
    joined: np.ndarray | None = None,
    options: VerifyOptions | None = None,
) -> VerifiedPairs:
    """Pairs of ``vectors`` (N, D) whose embeddings are candidates and whose pixels share a
    homography. ``joined`` (E, 2): pairs already known to be duplicates (for example pHash
    neighbours); they only save work and are not returned."""
    opts = options or VerifyOptions()
    check_float(opts.candidate_cosine, "candidate_cosine", -1.0, 1.0)
    n = len(vectors)
    if n < 2:
        empty = np.zeros((0, 2), np.int64)
        return VerifiedPairs(empty, np.zeros(0, np.float32), [])
    idx, sims = embedding_knn(vectors, k=min(opts.neighbors, n - 1))
    cand, cand_sims = embedding_neighbors_from_knn(idx, sims, threshold=opts.candidate_cosine)
    groups = DisjointSet(range(n))
    known = np.zeros((0, 2), np.int64) if joined is None else joined
    for i, j in check_indices(known, "joined", (None, 2), n):
        groups.merge(int(i), int(j))
    cache: dict[int, LocalFeatures | None] = {}

    def feats(i: int) -> LocalFeatures | None:
        if i not in cache:
            cache[i] = features(i)
        return cache[i]

    out = VerifiedPairs(np.zeros((0, 2), np.int64), np.zeros(0, np.float32), [])
    out.candidates = len(cand)
    kept: list[int] = []
    for p in np.argsort(-cand_sims, kind="stable"):
        i, j, sim = int(cand[p, 0]), int(cand[p, 1]), float(cand_sims[p])
        if groups.connected(i, j):
            out.skipped += 1
            continue
        if opts.accept_cosine is not None and sim >= opts.accept_cosine:
            match: GeometricMatch | bool = True
        else:
            match = _decide(sim, feats(i), feats(j), opts, out)
        if match is not False:
            groups.merge(i, j)
            kept.append(int(p))
            out.matches.append(match if isinstance(match, GeometricMatch) else None)
    out.pairs, out.sims = cand[kept], cand_sims[kept]
    out.shapes = {i: f.shape for i, f in cache.items() if f is not None}
    return out


def features_from_pixels(
    pixels: Callable[[str], np.ndarray | None], keys: Sequence[str]
) -> Callable[[int], LocalFeatures | None]:
    """``features`` for :func:`verified_neighbors` from a loader of working copies by key."""

    def features(i: int) -> LocalFeatures | None:
        gray = pixels(keys[i])
        return None if gray is None else local_features(gray)

    return features


def _decide(
    sim: float,
    fa: LocalFeatures | None,
    fb: LocalFeatures | None,
    opts: VerifyOptions,
    out: VerifiedPairs,
) -> GeometricMatch | bool:
    """A match (kept, with evidence), True (kept without evidence) or False (rejected)."""
    usable = [f is not None and len(f.points) >= opts.min_inliers for f in (fa, fb)]
    if not all(usable):
        return sim >= opts.fallback_cosine
    out.verified += 1
    match = match_features(fa, fb)  # type: ignore[arg-type]
    ok = is_same_picture(match, min_inliers=opts.min_inliers, min_ratio=opts.min_ratio)
    return match if ok else False
