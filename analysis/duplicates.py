"""Near-duplicate search for the audits: which images are (almost) the same picture.

Arrays in, arrays out, in the style of cleanlab's ``filter`` and ``rank``: hashes or embeddings
go in, and pairs, cluster ids and masks come out. No I/O, no global state.

- ``hash_neighbors``: pairs of 64-bit perceptual hashes within a Hamming radius. Exact and
  sub-quadratic (multi-index hashing, see ``analysis.hamming_index``).
- ``embedding_neighbors`` and ``embedding_neighbors_from_knn`` (``analysis.embedding_pairs``):
  pairs of embeddings above a cosine threshold, from a blocked exact scan or from a vector
  index's k-nearest-neighbour answer.
- ``cluster_pairs``, ``choose_keepers``, ``split_leakage`` and ``near_duplicate_groups``: from
  pairs to groups, the copy to keep in each group, and groups that straddle splits;
  ``resolution_keepers`` re-chooses the copy by effective resolution and JPEG quality
  (:mod:`analysis.resolution`), so an upscaled or re-saved copy is not kept for its size.

Identical hashes: flat or nearly empty images all hash to the same value (often 0), and a data
set can hold thousands of them; 10,000 identical hashes make 50 million pairs. So identical
hashes are collapsed first and the search runs among distinct values only. Expanding back to
item pairs is the one step that can still blow up: ``links="all"`` (every pair, exactly what a
brute-force comparison returns) counts the pairs first and refuses more than ``max_pairs``;
``links="star"`` returns a sparser edge set with the same connected components (each item joined
to the first item with the same hash, and those first items joined when within the radius),
which has O(N + distinct pairs) edges however much repetition there is. Use "star" to group.

Mirror images: a perceptual hash does not survive a horizontal flip. On 17 photos bundled with
scikit-image a mirrored copy's pHash is 28-34 of 64 bits away, as far as unrelated photos are
(the closest unrelated pair there is 20 apart). ``mirrored=`` takes the hashes of the mirrored
images and links two items when any orientation pair is within the radius. Computing those
hashes is the extractor's job; the feature store does not keep them yet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from analysis.embedding_pairs import embedding_neighbors, embedding_neighbors_from_knn
from analysis.hamming_index import expand_ranges, pairs_within, plan_search, unique_pairs
from analysis.resolution import ResolutionSignal, keeper_order
from analysis.validation import (
    MAX_PAIRS,
    check_choice,
    check_hashes,
    check_indices,
    check_int,
    check_max_pairs,
    check_scores,
    check_shape,
)

__all__ = [
    "MAX_PAIRS",
    "NearDuplicates",
    "choose_keepers",
    "resolution_keepers",
    "cluster_pairs",
    "embedding_neighbors",
    "embedding_neighbors_from_knn",
    "hash_neighbors",
    "near_duplicate_groups",
    "split_leakage",
]


def hash_neighbors(
    hashes: np.ndarray,
    *,
    radius: int,
    links: str = "all",
    mirrored: np.ndarray | None = None,
    method: str = "auto",
    max_pairs: int | None = MAX_PAIRS,
) -> np.ndarray:
    """Pairs ``(i, j)``, i < j, of 64-bit ``hashes`` (N,) at most ``radius`` bits apart.

    ``hashes`` are int64 as the feature store keeps them (uint64 works too). ``radius`` is in
    [0, 64]. ``links`` is "all" (every pair) or "star" (same clusters, far fewer pairs when
    hashes repeat; see the module docstring). ``mirrored`` (N,) holds the hashes of the
    horizontally flipped images; then any orientation pair within ``radius`` counts.
    ``method`` is "auto", "mih" or "scan" (all exact; "auto" picks the cheaper). ``max_pairs``
    (None for no limit) bounds the output of ``links="all"`` (with ``mirrored``, counted over
    both orientations before they are merged).

    Returns int64 (P, 2), sorted by i then j.
    """
    h = check_hashes(hashes, "hashes")
    radius = check_int(radius, "radius", 0, 64)
    links = check_choice(links, "links", ("all", "star"))
    method = check_choice(method, "method", ("auto", "mih", "scan"))
    max_pairs = check_max_pairs(max_pairs)
    n = len(h)
    if mirrored is not None:
        h = np.concatenate([h, check_hashes(mirrored, "mirrored", n)])
    distinct, inverse = np.unique(h, return_inverse=True)
    between = pairs_within(distinct, radius, plan_search(distinct, radius, method=method))
    groups = _Groups(inverse.ravel())
    if links == "star":
        pairs = groups.star(between)
    else:
        groups.check_count(between, max_pairs, radius)
        pairs = groups.all(between)
    if mirrored is None:
        return pairs
    pairs = pairs % n  # item i and its mirror i + n are the same item
    return unique_pairs([_ordered(pairs[pairs[:, 0] != pairs[:, 1]])], n)


class _Groups:
    """Items grouped by identical hash: members of group g are ``order[start[g]:][:count[g]]``,
    in ascending item order, so ``order[start[g]]`` is the group's first item."""

    def __init__(self, inverse: np.ndarray) -> None:
        self.n = len(inverse)
        self.order = np.argsort(inverse, kind="stable")
        self.count = np.bincount(inverse, minlength=int(inverse.max(initial=-1)) + 1)
        self.start = np.cumsum(self.count) - self.count

    def check_count(self, between: np.ndarray, max_pairs: int | None, radius: int) -> None:
        c = self.count
        total = int((c * (c - 1) // 2).sum() + (c[between[:, 0]] * c[between[:, 1]]).sum())
        if max_pairs is not None and total > max_pairs:
            raise ValueError(
                f"{total} pairs lie within radius {radius}, more than max_pairs={max_pairs} "
                f"(the largest group of identical hashes has {c.max()} items); pass "
                "links='star' for the same clusters with far fewer pairs, or raise max_pairs"
            )

    def all(self, between: np.ndarray) -> np.ndarray:
        pos = np.arange(self.n)
        end = np.repeat(self.start + self.count, self.count)
        found = [self._items(a, b) for a, b in expand_ranges(pos, pos + 1, end - pos - 1)]
        u, v = between[:, 0], between[:, 1]
        for row, a in expand_ranges(np.arange(len(between)), self.start[u], self.count[u]):
            for a2, b in expand_ranges(a, self.start[v[row]], self.count[v[row]]):
                found.append(self._items(a2, b))
        return unique_pairs(found, self.n)

    def star(self, between: np.ndarray) -> np.ndarray:
        first = self.order[self.start]
        later = np.ones(self.n, dtype=bool)
        later[self.start] = False
        group = np.repeat(np.arange(len(self.count)), self.count)
        within = np.stack([first[group[later]], self.order[later]], axis=1)
        across = np.stack([first[between[:, 0]], first[between[:, 1]]], axis=1)
        return unique_pairs([_ordered(within), _ordered(across)], self.n)

    def _items(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return _ordered(np.stack([self.order[a], self.order[b]], axis=1))


def _ordered(pairs: np.ndarray) -> np.ndarray:
    return np.sort(pairs, axis=1)


def cluster_pairs(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected components of the graph on ``n`` items with edges ``pairs`` (P, 2).

    Returns int64 cluster ids (N,), numbered 0, 1, ... in order of each cluster's lowest item,
    so the ids are stable for a given input. Items in no pair are singleton clusters.
    """
    n = check_int(n, "n", 0)
    pairs = check_indices(pairs, "pairs", (None, 2), n)
    graph = coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[labels]


def choose_keepers(cluster_ids: np.ndarray, *, quality: np.ndarray) -> np.ndarray:
    """One item to keep per cluster: the highest ``quality`` (ties go to the lowest index).

    ``cluster_ids`` (N,) ints, ``quality`` (N,) reals where higher is better and NaN ranks
    last. Returns bool (N,): True for singletons and for each cluster's keeper.
    """
    clusters = check_indices(cluster_ids, "cluster_ids", (None,), np.iinfo(np.int64).max)
    score = check_scores(quality, "quality", len(clusters))
    score = np.where(np.isnan(score), -np.inf, score)
    order = np.lexsort((np.arange(len(clusters)), -score, clusters))
    ranked = clusters[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = ranked[1:] != ranked[:-1]
    keep = np.zeros(len(clusters), dtype=bool)
    keep[order[first]] = True
    return keep


def resolution_keepers(
    cluster_ids: np.ndarray,
    keep: np.ndarray,
    signal: Callable[[int], ResolutionSignal | None],
    *,
    vectors: np.ndarray | None = None,
    workers: int = 1,
) -> np.ndarray:
    """Keepers re-chosen by effective resolution and JPEG quality (``keeper_order``), so an
    upscaled or re-compressed copy does not win on pixel count. ``signal(i)`` is measured only
    for members of clusters with more than one item, on ``workers`` threads (a signal is a
    decode and an FFT, both of which release the GIL); a cluster where any member cannot be
    measured keeps its ``keep`` choice. ``vectors`` (N, D) L2-normalised embeddings, when
    given, break ties by centrality (mean cosine to the other members). Members are tried in
    index order within ties, except that the previous keeper goes first."""
    clusters = np.asarray(cluster_ids)
    out = np.asarray(keep, dtype=bool).copy()
    ids, sizes = np.unique(clusters, return_counts=True)
    shared = np.flatnonzero(np.isin(clusters, ids[sizes > 1]))
    measured = dict(zip(shared.tolist(), _map(signal, shared.tolist(), workers), strict=True))
    for c in ids[sizes > 1]:
        members = sorted(np.flatnonzero(clusters == c), key=lambda i: not out[i])
        signals = [measured[int(i)] for i in members]
        if any(s is None for s in signals):
            continue
        central = None
        if vectors is not None:
            v = vectors[members]
            central = list((v @ v.T).mean(axis=1))
        best = members[keeper_order(signals, centrality=central)[0]]  # type: ignore[arg-type]
        out[members] = False
        out[best] = True
    return out


def _map(fn: Callable[[int], ResolutionSignal | None], items: list[int], workers: int) -> list:
    if workers <= 1 or len(items) < 2:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def split_leakage(cluster_ids: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """Items whose cluster holds items from more than one split (train/val/test leakage).

    ``cluster_ids`` (N,) ints; ``splits`` (N,) labels, where None/NaN means "not assigned":
    such items neither count towards a cluster's splits nor are flagged. Returns bool (N,).
    """
    clusters = check_indices(cluster_ids, "cluster_ids", (None,), np.iinfo(np.int64).max)
    labels = np.asarray(splits, dtype=object)
    check_shape(labels, "splits", (len(clusters),))
    codes, _ = pd.factorize(labels, use_na_sentinel=True)
    assigned = codes >= 0
    seen = np.unique(np.stack([clusters[assigned], codes[assigned]], axis=1), axis=0)
    n_splits = np.bincount(seen[:, 0], minlength=int(clusters.max(initial=-1)) + 1)
    return assigned & (n_splits[clusters] > 1)


@dataclass(frozen=True)
class NearDuplicates:
    """Per-item results of ``near_duplicate_groups``; every array is (N,)."""

    cluster: np.ndarray  # int64 cluster id, numbered by lowest member
    size: np.ndarray  # int64 members in the item's cluster (1 = no near-duplicate)
    keep: np.ndarray  # bool: the copy to keep (singletons are kept)
    leak: np.ndarray  # bool: its cluster spans more than one split


def near_duplicate_groups(
    n: int,
    pairs: Sequence[np.ndarray],
    *,
    quality: np.ndarray | None = None,
    splits: np.ndarray | None = None,
) -> NearDuplicates:
    """Group ``n`` items by the union of several pair lists (for example pHash, dHash and
    embedding neighbours), choose keepers by ``quality`` (N,) (default: the lowest index) and
    flag clusters that straddle ``splits`` (N,) (default: none)."""
    n = check_int(n, "n", 0)
    edges = [check_indices(p, f"pairs[{k}]", (None, 2), n) for k, p in enumerate(pairs)]
    cluster = cluster_pairs(n, np.concatenate(edges) if edges else np.zeros((0, 2), np.int64))
    size = np.bincount(cluster, minlength=n)[cluster]
    keep = choose_keepers(cluster, quality=np.zeros(n) if quality is None else quality)
    leak = np.zeros(n, bool) if splits is None else split_leakage(cluster, splits)
    return NearDuplicates(cluster=cluster, size=size, keep=keep, leak=leak)


def hamming_pairs(hashes: np.ndarray, *, threshold: int, block: int = 2048) -> np.ndarray:
    """Index pairs ``(i, j)``, i < j, of int64 hashes within ``threshold`` bits. Shape (P, 2).

    Blocked all-pairs popcount: the brute-force reference for :func:`hash_neighbors`
    (tests and benchmarks); fine to tens of thousands of hashes.
    """
    if threshold < 0 or threshold > 64:
        raise ValueError(f"threshold must be in [0, 64], got {threshold}")
    h = np.ascontiguousarray(hashes, dtype=np.int64).view(np.uint64)
    out = []
    for start in range(0, len(h), block):
        xor = h[start : start + block, None] ^ h[None, :]
        dist = np.bitwise_count(xor)
        i, j = np.nonzero(dist <= threshold)
        i += start
        keep = i < j
        out.append(np.stack([i[keep], j[keep]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)
