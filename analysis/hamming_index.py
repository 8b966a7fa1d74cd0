"""Exact Hamming-radius self-join of distinct 64-bit hashes, sub-quadratic by multi-index hashing.

Why not all pairs: N²/2 popcounts is 5e11 at a million images. Multi-index hashing (Norouzi,
Punjani and Fleet, "Fast search in Hamming space with multi-index hashing", CVPR 2012) cuts the
64 bits into m contiguous substrings and gives substring k a radius s_k with
``sum(s_k + 1) == radius + 1``. If two hashes differ in at most ``radius`` bits, some substring
k differs in at most s_k bits, or the distance would be at least ``sum(s_k + 1) > radius``
(pigeonhole). Candidates are the pairs whose k-th substrings lie within s_k for some k; each is
verified with a popcount over all 64 bits, so the result is exact.

m = radius + 1 makes every s_k zero (plain substring buckets), but at radius 8 the substrings
are 7 bits wide and a million random hashes would give 3.5e10 candidates. So ``plan_search``
picks m and the s_k with a cost model: probing (every hash looks up its substring XOR each mask
of weight 1..s_k in a dense table) against candidates (pairs that share a probed bucket). At a
million hashes that is three 21-22 bit substrings, with s_k = 2 at radius 8 and s_k = (1, 1, 0)
at radius 4. When the blocked all-pairs scan is cheaper (a few thousand hashes, large radius),
the scan is used. Inputs are *distinct* uint64 hashes: collapsing repeats is the caller's job
(``analysis.duplicates``), which keeps buckets from exploding on identical hashes. Temporary
arrays stay near ``BUDGET`` elements whatever N is.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

BUDGET = 1 << 22  # elements per temporary array (32 MB of int64)
_SAMPLE = 1 << 16  # hashes sampled to measure bucket crowding
_MAX_TABLE_BITS = 22  # widest substring probed through a dense lookup table (2^22 entries)
_MAX_SUBSTRINGS = 16  # shorter substrings (4 bits) put N/16 hashes in a bucket: never cheaper
# Costs in nanoseconds, fitted on uniform and Fashion-MNIST pHashes (10k-1M) on a 2-core x86
# machine; only their ratios matter. The chosen plan ran within 1.7x of the best one there.
_NS_SCAN_PAIR = 5.0  # one pair of the blocked all-pairs scan
_NS_SORT = 95.0  # one hash sorted and bucketed, per substring
_NS_PROBE = 9.0  # one upward (hash, mask) lookup
_NS_SAME_BUCKET = 12.0  # one candidate pair from a shared bucket, expanded and verified
_NS_NEAR_BUCKET = 6.0  # one candidate pair from a probed bucket
_NS_TABLE = 2.5  # one lookup-table slot


@dataclass(frozen=True)
class Plan:
    """How ``pairs_within`` searches: ``"mih"`` with substring ``widths`` (most significant
    first) and per-substring ``radii``, or ``"scan"``. ``cost`` is the model's estimate in s."""

    method: str
    widths: tuple[int, ...]
    radii: tuple[int, ...]
    cost: float


def plan_search(hashes: np.ndarray, radius: int, *, method: str = "auto") -> Plan:
    """The cheapest exact plan for distinct uint64 ``hashes`` (N,); ``method`` may force
    "mih" or "scan". Bucket crowding is measured on a sample, because real hashes are far from
    uniform and crowded buckets make short substrings costly."""
    n = len(hashes)
    scan = Plan("scan", (), (), _NS_SCAN_PAIR * n * n / 2 * 1e-9)
    if method == "scan":
        return scan
    sample = hashes
    if n > _SAMPLE:
        sample = hashes[np.random.default_rng(0).choice(n, _SAMPLE, replace=False)]
    plans = []
    for m in range(1, min(radius + 1, _MAX_SUBSTRINGS) + 1):
        crowding = _crowding(sample, _widths(m))
        if (plan := mih_plan(n, radius, m, crowding=crowding)) is not None:
            plans.append(plan)
    best = min(plans, key=lambda p: p.cost) if plans else scan
    return scan if method == "auto" and scan.cost < best.cost else best


def mih_plan(
    n: int, radius: int, m: int, *, crowding: Sequence[float] | None = None
) -> Plan | None:
    """Plan with ``m`` substrings: start every s_k at 0 and hand out the remaining
    ``radius + 1 - m`` units one at a time where they add the least cost. ``crowding`` (m,)
    scales each substring's candidate count (1.0 = uniform hashes). None if infeasible."""
    if not 1 <= m <= min(radius + 1, 64):
        return None
    widths = _widths(m)
    crowd = tuple(crowding) if crowding is not None else (1.0,) * m
    radii = [0] * m

    def cost(k: int, s: int) -> float:
        return _cost(n, widths[k], s, crowd[k])

    for _ in range(radius + 1 - m):
        extra = [cost(k, s + 1) - cost(k, s) for k, s in enumerate(radii)]
        k = int(np.argmin(extra))
        if not math.isfinite(extra[k]):
            return None
        radii[k] += 1
    total = sum(cost(k, s) for k, s in enumerate(radii))
    return Plan("mih", widths, tuple(radii), total) if math.isfinite(total) else None


def _widths(m: int) -> tuple[int, ...]:
    return tuple(64 // m + (k < 64 % m) for k in range(m))


def _substrings(hashes: np.ndarray, widths: Sequence[int]) -> Iterator[np.ndarray]:
    """Each substring of ``hashes`` as int64 keys, most significant first."""
    shift = 64
    for width in widths:
        shift -= width
        keys = (hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
        yield keys.view(np.int64) if width == 64 else keys.astype(np.int64)


def _crowding(sample: np.ndarray, widths: Sequence[int]) -> list[float]:
    """Per substring: pairs of ``sample`` sharing a bucket, relative to uniform hashes."""
    k, out = len(sample), []
    for width, keys in zip(widths, _substrings(sample, widths), strict=True):
        counts = np.unique(keys, return_counts=True)[1].astype(np.float64)
        uniform = k * (k - 1) / 2 / 2.0**width
        out.append((float((counts * (counts - 1)).sum()) / 2 + 1) / (uniform + 1))
    return out


def _cost(n: int, width: int, s: int, crowding: float) -> float:
    if s > 0 and width > _MAX_TABLE_BITS:
        return math.inf
    volume = sum(math.comb(width, i) for i in range(s + 1))  # keys within s of a key
    pairs_per_bucket = n * n / 2 / 2.0**width * crowding
    probing = (
        n * (volume - 1) / 2 * _NS_PROBE  # upward probes only
        + pairs_per_bucket * (volume - 1) * _NS_NEAR_BUCKET
        + (2.0**width * _NS_TABLE if s else 0.0)
    )
    return (n * _NS_SORT + pairs_per_bucket * _NS_SAME_BUCKET + probing) * 1e-9


def pairs_within(hashes: np.ndarray, radius: int, plan: Plan) -> np.ndarray:
    """Positions ``(i, j)``, i < j, of distinct uint64 ``hashes`` (N,) within ``radius`` bits.

    Returns int64 (P, 2), sorted by i then j.
    """
    if len(hashes) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if plan.method == "scan":
        found = list(_scan(hashes, radius))
    else:
        found = []
        keys = _substrings(hashes, plan.widths)
        for width, s, key in zip(plan.widths, plan.radii, keys, strict=True):
            found += _substring_pairs(hashes, key, width, s, radius)
    return unique_pairs(found, len(hashes))


def _scan(hashes: np.ndarray, radius: int, tile: int = 2048) -> Iterator[np.ndarray]:
    for a in range(0, len(hashes), tile):
        for b in range(a, len(hashes), tile):
            dist = np.bitwise_count(hashes[a : a + tile, None] ^ hashes[None, b : b + tile])
            i, j = np.nonzero(dist <= radius)
            i, j = i + a, j + b
            yield np.stack([i[i < j], j[i < j]], axis=1)


def _substring_pairs(
    hashes: np.ndarray, keys: np.ndarray, width: int, s: int, radius: int
) -> Iterator[np.ndarray]:
    """Verified pairs whose substring ``keys`` are within ``s`` bits."""
    order = np.argsort(keys, kind="stable")
    sorted_keys, sorted_hashes = keys[order], hashes[order]
    run_start = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    run_len = np.diff(np.r_[run_start, len(keys)])
    pos = np.arange(len(keys))
    run_end = np.repeat(run_start + run_len, run_len)
    # Same bucket: each position pairs with the rest of its run.
    yield from _verify(pos, pos + 1, run_end - pos - 1, sorted_hashes, order, radius)
    if s == 0:
        return
    counts = np.zeros(1 << width, dtype=np.int32)
    starts = np.zeros(1 << width, dtype=np.int32)
    counts[sorted_keys[run_start]] = run_len
    starts[sorted_keys[run_start]] = run_start
    small_keys = sorted_keys.astype(np.int32)
    for bit, masks in enumerate(_masks_by_top_bit(width, s)):
        # A mask whose top bit is ``bit`` leads upward exactly from keys with that bit clear:
        # probing only those visits each pair of buckets once and halves the work.
        source = np.flatnonzero((small_keys & (1 << bit)) == 0)
        if not len(source) or not len(masks):
            continue
        step, from_keys = max(1, BUDGET // len(source)), small_keys[source]
        for first in range(0, len(masks), step):
            probe = (from_keys[None, :] ^ masks[first : first + step, None]).ravel()
            found = counts[probe]
            hit = np.flatnonzero(found)
            target = probe[hit]
            left = source[hit % len(source)]
            yield from _verify(left, starts[target], found[hit], sorted_hashes, order, radius)


def _masks_by_top_bit(width: int, s: int) -> list[np.ndarray]:
    """int32 masks of ``width`` bits with 1..s bits set, grouped by their highest set bit."""
    groups: list[list[int]] = [[] for _ in range(width)]
    for k in range(1, s + 1):
        for bits in itertools.combinations(range(width), k):
            groups[bits[-1]].append(sum(1 << b for b in bits))
    return [np.array(g, dtype=np.int32) for g in groups]


def _verify(
    left: np.ndarray,
    right_start: np.ndarray,
    right_len: np.ndarray,
    hashes: np.ndarray,
    ids: np.ndarray,
    radius: int,
) -> Iterator[np.ndarray]:
    """Check each ``left`` against positions ``right_start[k] + [0, right_len[k])``; yield the
    ``ids`` pairs (i < j) within ``radius``. Single-item ranges, the common case with sparse
    buckets, skip the ragged expansion."""
    single = right_len == 1
    pieces = [(left[single], right_start[single])] if single.any() else []
    rest = ~single
    for lp, rp in itertools.chain(
        pieces, expand_ranges(left[rest], right_start[rest], right_len[rest])
    ):
        ok = np.bitwise_count(hashes[lp] ^ hashes[rp]) <= radius
        a, b = ids[lp[ok]], ids[rp[ok]]
        yield np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)


def expand_ranges(
    left: np.ndarray, start: np.ndarray, length: np.ndarray, *, budget: int = BUDGET
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(left repeated, start + offset)`` for every row's range, in pieces whose size
    stays near ``budget`` (a single row longer than that is yielded whole)."""
    keep = length > 0
    left, start, length = left[keep], start[keep], length[keep]
    if not len(length):
        return
    ends = np.cumsum(length)
    cuts = np.searchsorted(ends, np.arange(budget, int(ends[-1]), budget), side="right")
    bounds = np.unique(np.r_[0, cuts, len(length)])
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        n = length[lo:hi]
        before = np.cumsum(n) - n
        yield np.repeat(left[lo:hi], n), np.repeat(start[lo:hi] - before, n) + np.arange(n.sum())


def unique_pairs(found: list[np.ndarray], n: int) -> np.ndarray:
    """Concatenate (P, 2) pair blocks over ``n`` items, drop repeats, sort by (i, j)."""
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(found).astype(np.int64, copy=False)
    keys = np.unique(pairs[:, 0] * np.int64(n) + pairs[:, 1])
    return np.stack([keys // n, keys % n], axis=1)
