"""Near-duplicate search scaling: multi-index hashing against the all-pairs scan, side by side.

Hashes: uniform random 64-bit values, 1% of them replaced by copies of others with up to 4 bits
flipped (planted near-duplicates). For each radius (4 and 8) and size, the script times
``analysis.duplicates.hash_neighbors``, checks that every planted pair is found, and prints
the growth exponent between sizes (1.0 is linear, 2.0 quadratic). The baseline is the blocked
all-pairs scan ``analysis.duplicates.hamming_pairs`` at the small sizes; both must return the
same pairs. Embeddings: ``embedding_neighbors`` on random unit 256-d vectors with 1% noisy
copies, against a one-shot full similarity matrix at 10k. Real hashes: the pHashes of the
70,000 Fashion-MNIST images (Debian ``dataset-fashion-mnist``), which crowd into few buckets,
against the all-pairs scan.

Timings are wall-clock, best of 3 below 1M items (1 at 1M), on a machine whose cores may be
shared with other processes; the load average is printed.

    python benchmarks/dedup_scaling.py [--sizes 10000 100000 1000000] [--record]
"""

from __future__ import annotations

import argparse
import math
import os
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import imagehash
import numpy as np
from _common import machine_line, record_result
from PIL import Image

from analysis.duplicates import embedding_neighbors, hamming_pairs, hash_neighbors
from analysis.hamming_index import plan_search
from winnow.datasets import FASHION_MNIST_ROOT, load_fashion_mnist
from winnow.features.measure import hash_to_int64

PLANTED_SHARE = 0.01
MAX_FLIPS = 4


def planted_hashes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` int64 hashes and the planted pairs (P, 2) within ``MAX_FLIPS`` bits."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)
    copies = rng.choice(n, int(n * PLANTED_SHARE), replace=False)
    originals = np.setdiff1d(np.arange(n), copies)
    sources = originals[rng.integers(0, len(originals), len(copies))]
    bits = rng.integers(0, 64, (len(copies), MAX_FLIPS)).astype(np.uint64)
    use = np.arange(MAX_FLIPS) < rng.integers(1, MAX_FLIPS + 1, len(copies))[:, None]
    flips = np.bitwise_xor.reduce(np.where(use, np.uint64(1) << bits, np.uint64(0)), axis=1)
    hashes[copies] = hashes[sources] ^ flips
    pairs = np.sort(np.stack([sources, copies], axis=1), axis=1)
    return hashes.view(np.int64), pairs


def peak_memory(fn: Callable[[], object]) -> str:
    """Peak of memory allocated while ``fn`` runs (NumPy reports its buffers to tracemalloc)."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return f"{peak / 1e6:,.0f} MB"


def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def growth(times: dict[int, float]) -> str:
    sizes = sorted(times)
    steps = [
        f"{a:,}->{b:,}: {math.log(times[b] / times[a]) / math.log(b / a):.2f}"
        for a, b in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    return "growth exponent " + ", ".join(steps)


def hash_section(sizes: list[int], brute_sizes: list[int]) -> list[str]:
    lines = []
    for radius in (4, 8):
        times, brute = {}, {}
        for n in sizes:
            hashes, planted = planted_hashes(n)
            t, pairs = best_time(
                lambda h=hashes, r=radius: hash_neighbors(h, radius=r), 3 if n < 1_000_000 else 1
            )
            found = np.isin(planted[:, 0] * n + planted[:, 1], pairs[:, 0] * n + pairs[:, 1])
            plan = plan_search(np.unique(hashes.view(np.uint64)), radius)
            times[n] = t
            lines.append(
                f"radius {radius}, N={n:>9,}: {t:7.3f} s, {len(pairs):,} pairs, planted found "
                f"{found.mean():.0%} ({plan.method}, substrings {plan.widths} radii {plan.radii})"
            )
            if n in brute_sizes:
                scan = lambda h=hashes, r=radius: hamming_pairs(h, threshold=r)  # noqa: E731
                brute[n], ref = best_time(scan, 3)
                same = {tuple(p) for p in ref.tolist()} == {tuple(p) for p in pairs.tolist()}
                lines.append(
                    f"  all-pairs scan N={n:,}: {brute[n]:.3f} s, same pairs: {same}, "
                    f"speedup {brute[n] / t:.1f}x"
                )
        lines.append(f"radius {radius}: {growth(times)}")
        if brute:
            big, top = max(brute), max(sizes)
            estimate = brute[big] * (top / big) ** 2
            lines.append(
                f"radius {radius}: all-pairs scan at N={top:,} would take about {estimate:,.0f} s "
                f"(quadratic from N={big:,}) vs {times[top]:.1f} s"
            )
    return lines


def fashion_mnist_phashes(root: Path) -> np.ndarray:
    """pHash (int64) of the 70,000 Fashion-MNIST images: real, heavily crowded hashes."""
    images = [load_fashion_mnist(split, root=root)[0] for split in ("train", "test")]
    return np.array(
        [hash_to_int64(imagehash.phash(Image.fromarray(a))) for a in np.concatenate(images)],
        dtype=np.int64,
    )


def real_section(folder: Path) -> list[str]:
    hashes = fashion_mnist_phashes(folder)
    lines = [
        f"Fashion-MNIST pHash: {len(hashes):,} images, {len(np.unique(hashes)):,} distinct hashes"
    ]
    for radius in (4, 8):
        t, pairs = best_time(lambda r=radius: hash_neighbors(hashes, radius=r, max_pairs=None), 1)
        scan = lambda r=radius: hamming_pairs(hashes, threshold=r)  # noqa: E731
        t_scan, ref = best_time(scan, 1)
        same = np.array_equal(pairs, ref[np.lexsort((ref[:, 1], ref[:, 0]))])
        lines.append(
            f"  radius {radius}: {t:.2f} s, {len(pairs):,} pairs; all-pairs scan "
            f"{t_scan:.1f} s, same pairs: {same}, speedup {t_scan / t:.1f}x"
        )
    return lines


def unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, dim)).astype(np.float32)
    copies = rng.choice(n, int(n * PLANTED_SHARE), replace=False)
    v[copies] = v[rng.integers(0, n, len(copies))] + 0.1 * rng.normal(size=(len(copies), dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def naive_cosine_pairs(v: np.ndarray, threshold: float) -> np.ndarray:
    i, j = np.nonzero(np.triu(v @ v.T >= threshold, k=1))
    return np.stack([i, j], axis=1)


def embedding_section(sizes: list[int], dim: int = 256, threshold: float = 0.95) -> list[str]:
    lines, times = [], {}
    for n in sizes:
        v = unit_rows(n, dim)
        times[n], (pairs, _) = best_time(lambda v=v: embedding_neighbors(v, threshold=threshold), 3)
        lines.append(
            f"embeddings N={n:,} x {dim}-d, cosine>={threshold}: "
            f"{times[n]:.2f} s, {len(pairs):,} pairs"
        )
        if n == min(sizes):
            t, ref = best_time(lambda v=v: naive_cosine_pairs(v, threshold), 3)
            lines.append(
                f"  full matrix at once N={n:,}: {t:.2f} s ({n * n * 4 / 1e9:.1f} GB "
                f"matrix), same pairs: {np.array_equal(ref, pairs)}"
            )
    lines.append(f"embeddings: {growth(times)} (quadratic by design)")
    return lines


def memory_section(n_hashes: int, n_vectors: int) -> list[str]:
    hashes, _ = planted_hashes(n_hashes)
    vectors = unit_rows(n_vectors, 256)
    return [
        f"peak memory, hash_neighbors N={n_hashes:,} radius 8 (input 8 MB per million): "
        + peak_memory(lambda: hash_neighbors(hashes, radius=8)),
        f"peak memory, embedding_neighbors N={n_vectors:,} x 256-d (input "
        f"{vectors.nbytes / 1e6:,.0f} MB): "
        + peak_memory(lambda: embedding_neighbors(vectors, threshold=0.95)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--brute-sizes", type=int, nargs="+", default=[10_000, 30_000])
    parser.add_argument("--embedding-sizes", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument(
        "--fashion-mnist", type=Path, default=FASHION_MNIST_ROOT, help="skipped if absent"
    )
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args()

    load = os.getloadavg()[0]
    sizes = sorted(set(args.sizes) | set(args.brute_sizes))
    lines = [
        *hash_section(sizes, args.brute_sizes),
        *(real_section(args.fashion_mnist) if args.fashion_mnist.is_dir() else []),
        *embedding_section(args.embedding_sizes),
        *memory_section(max(sizes), max(args.embedding_sizes)),
        f"{machine_line()}; load average {load:.1f} at start (cores shared with other work)",
    ]
    print("\n".join(lines))
    if args.record:
        record_result("Near-duplicate search scaling", lines)


if __name__ == "__main__":
    main()
