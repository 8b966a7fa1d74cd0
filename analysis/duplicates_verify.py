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
groups. Features are computed at most once per item, and only for items that get verified;
the mirror image's features only for an item whose straight match failed. With
``workers`` > 1, later candidates are matched ahead on threads (:mod:`analysis.verify_ahead`):
the same pairs, evidence and counts, sooner; a match started for a candidate that ends up
skipped costs time only.

A match depends only on the two contents and on the matching code, so with a ``cache``
(:class:`MatchCache`) the raw matches of earlier audits are reused: the thresholds decide on
them again, and a repeated audit of the same files reads no pixels for its candidates.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Protocol, TypeVar

import numpy as np
from scipy.cluster.hierarchy import DisjointSet

from analysis.embedding_pairs import embedding_knn, embedding_neighbors_from_knn
from analysis.geometric import (
    MATCH_VERSION,
    GeometricMatch,
    LocalFeatures,
    is_same_picture,
    local_features,
    match_features,
)
from analysis.validation import check_float, check_indices, check_int
from analysis.verify_ahead import Ahead, Once


@dataclass(frozen=True)
class VerifyOptions:
    """Thresholds of the verified search, chosen on benchmarks/near_duplicates.py."""

    candidate_cosine: float = 0.70  # embedding candidates from here up are verified
    neighbors: int = 10  # candidates per item: its k nearest embeddings
    # At or above: kept without verification (None: never). Off, because no cosine is safe on
    # drawings: Tux Paint look-alike stamps were rejected by RANSAC at up to 0.98, the bench's
    # stereo pairs at 0.96, while 0.99 would spare only 2 of the bench's 870 verifications.
    accept_cosine: float | None = None
    min_inliers: int = 20  # RANSAC inliers needed (stereo pairs, other views: 11 to 46)
    min_ratio: float = 0.5  # inliers per ratio-test match (stereo 0.38-0.45; copies 0.62+)
    fallback_cosine: float = 0.90  # items without usable features: the plain cosine rule
    # Threads matching candidates ahead of the in-order decisions (decoding, ORB and RANSAC
    # release the GIL); the kept pairs are the same for any number (see ``verify_ahead.Ahead``).
    workers: int = 1


@dataclass
class VerifiedPairs:
    """What the verified search kept, and what it cost."""

    pairs: np.ndarray  # int64 (P, 2), i < j: kept pairs
    sims: np.ndarray  # float32 (P,): their cosines
    matches: list[GeometricMatch | None]  # (P,): the evidence; None when not verified
    shapes: dict[int, tuple[int, int]] = field(default_factory=dict)  # item -> working copy
    candidates: int = 0  # candidate pairs at or above candidate_cosine
    verified: int = 0  # candidates that were matched geometrically (or found in the cache)
    skipped: int = 0  # candidates already inside one group
    cached: int = 0  # of ``verified``, matches reused from the cache


@dataclass(frozen=True)
class PairMatch:
    """A pair's raw geometric match and both working copies' (height, width): what a cache
    keeps, so that the evidence can be rescaled without reading the pixels again."""

    match: GeometricMatch
    shapes: tuple[tuple[int, int], tuple[int, int]]


Key = TypeVar("Key")


class MatchCache(Protocol[Key]):
    """Raw matches of candidate pairs from earlier runs: ``MatchCache[int]`` by item indices
    ``(i, j)``, i < j, as :func:`verified_neighbors` asks; ``MatchCache[str]`` by content
    (sha256 pairs), as the audit's callers keep them. ``version`` names the matching code and
    the settings that change a raw match."""

    def load(
        self, version: str, pairs: Sequence[tuple[Key, Key]]
    ) -> dict[tuple[Key, Key], PairMatch]:
        """The cached matches among ``pairs`` (absent pairs are left out)."""
        ...

    def save(self, version: str, found: Mapping[tuple[Key, Key], PairMatch]) -> None:
        """Keep the new matches (failures to write must not raise)."""
        ...


def verified_neighbors(
    vectors: np.ndarray,
    features: Callable[[int], LocalFeatures | None],
    *,
    joined: np.ndarray | None = None,
    options: VerifyOptions | None = None,
    knn: tuple[np.ndarray, np.ndarray] | None = None,
    cache: MatchCache[int] | None = None,
) -> VerifiedPairs:
    """Pairs of ``vectors`` (N, D) whose embeddings are candidates and whose pixels share a
    homography. ``joined`` (E, 2): pairs already known to be duplicates (for example pHash
    neighbours); they only save work and are not returned. ``knn``: (indices, cosines) (N, k)
    from :func:`~analysis.embedding_pairs.embedding_knn` (or a vector index) when the caller
    already has them; only the first ``options.neighbors`` columns are used. ``cache``:
    raw matches from earlier runs, reused instead of pixels; the new ones are saved to it."""
    opts = options or VerifyOptions()
    check_float(opts.candidate_cosine, "candidate_cosine", -1.0, 1.0)
    n = len(vectors)
    if n < 2:
        empty = np.zeros((0, 2), np.int64)
        return VerifiedPairs(empty, np.zeros(0, np.float32), [])
    k = min(opts.neighbors, n - 1)
    idx, sims = embedding_knn(vectors, k=k) if knn is None else (knn[0][:, :k], knn[1][:, :k])
    cand, cand_sims = embedding_neighbors_from_knn(idx, sims, threshold=opts.candidate_cosine)
    groups = DisjointSet(range(n))
    known = np.zeros((0, 2), np.int64) if joined is None else joined
    for i, j in check_indices(known, "joined", (None, 2), n):
        groups.merge(int(i), int(j))
    feats = Once(features)
    version = f"{MATCH_VERSION}/min_inliers={opts.min_inliers}"
    pair_list = [(int(i), int(j)) for i, j in cand]
    reused = {} if cache is None else cache.load(version, pair_list)
    new: dict[tuple[int, int], PairMatch] = {}
    shapes: dict[int, tuple[int, int]] = {}
    lock = threading.Lock()

    def judge(p: int) -> tuple[GeometricMatch | bool, bool]:
        pair = pair_list[p]
        hit = reused.get(pair)
        if hit is not None:
            with lock:
                shapes.update(zip(pair, hit.shapes, strict=True))
            return _decide(hit.match, opts), True
        fa, fb = feats(pair[0]), feats(pair[1])
        decision, match = _judge(float(cand_sims[p]), fa, fb, opts)
        with lock:
            shapes.update(
                (k, f.shape) for k, f in zip(pair, (fa, fb), strict=True) if f is not None
            )
            if match is not None and fa is not None and fb is not None:
                new[pair] = PairMatch(match, (fa.shape, fb.shape))
        return decision, match is not None

    out = VerifiedPairs(np.zeros((0, 2), np.int64), np.zeros(0, np.float32), [])
    out.candidates = len(cand)
    kept: list[int] = []
    used: set[int] = set()
    order = np.argsort(-cand_sims, kind="stable")
    accept = np.inf if opts.accept_cosine is None else opts.accept_cosine
    free = cand_sims.astype(np.float64) >= accept  # kept unverified, as float(sim) >= accept
    workers = check_int(opts.workers, "workers", 1)
    with Ahead(order, cand, groups, judge, workers=workers, free=free) as ahead:
        for p in order:
            i, j = int(cand[p, 0]), int(cand[p, 1])
            if groups.connected(i, j):
                out.skipped += 1
                continue
            if free[p]:
                match: GeometricMatch | bool = True
            else:
                match, verified = ahead.result(int(p))
                out.verified += verified
                out.cached += verified and pair_list[p] in reused
                used.update((i, j))
            if match is not False:
                groups.merge(i, j)
                kept.append(int(p))
                out.matches.append(match if isinstance(match, GeometricMatch) else None)
    out.pairs, out.sims = cand[kept], cand_sims[kept]
    out.shapes = {i: shapes[i] for i in sorted(used) if i in shapes}
    if cache is not None and new:
        cache.save(version, new)
    return out


def features_from_pixels(
    pixels: Callable[[str], np.ndarray | None], keys: Sequence[str], *, keep: int = 256
) -> Callable[[int], LocalFeatures | None]:
    """``features`` for :func:`verified_neighbors` from a loader of working copies by key.
    The last ``keep`` working copies stay in memory for a late mirror; older ones are read
    again (memory stays bounded however many items are verified)."""
    recent = lru_cache(maxsize=keep)(pixels)

    def features(i: int) -> LocalFeatures | None:
        gray = recent(keys[i])
        return None if gray is None else local_features(gray, reload=partial(recent, keys[i]))

    return features


def _judge(
    sim: float, fa: LocalFeatures | None, fb: LocalFeatures | None, opts: VerifyOptions
) -> tuple[GeometricMatch | bool, GeometricMatch | None]:
    """``(decision, raw match)``: the decision is a match (kept, with evidence), True (kept
    without evidence) or False (rejected); the raw match is None when the pixels could not be
    matched (the plain cosine rule decided). Pure, so it runs on any thread."""
    usable = [f is not None and len(f.points) >= opts.min_inliers for f in (fa, fb)]
    if not all(usable):
        return sim >= opts.fallback_cosine, None
    match = match_features(fa, fb, min_inliers=opts.min_inliers)  # type: ignore[arg-type]
    return _decide(match, opts), match


def _decide(match: GeometricMatch, opts: VerifyOptions) -> GeometricMatch | bool:
    """The match itself when it shows one picture under ``opts``' thresholds, else False."""
    same = is_same_picture(match, min_inliers=opts.min_inliers, min_ratio=opts.min_ratio)
    return match if same else False
