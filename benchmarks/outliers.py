"""Outlier scores: Cleanlab's all-pairs kNN (the old path) vs the blocked kNN (the new one).

The old ``find_outliers`` let Cleanlab build scikit-learn brute-force neighbours over every
row; the new one keeps a running top k over tiles of the upper triangle
(analysis.embedding_pairs.embedding_knn), the pass the duplicate check already runs. Each
method runs in a fresh process on the same synthetic, clustered, L2-normalised 1280-d float32
embeddings; the table shows wall time, peak extra memory (resident set above the level before
the call, and numpy's allocations as traced by tracemalloc), their ratios, and the largest
score difference between the two.

    python benchmarks/outliers.py [--sizes 5000 20000 50000] [--old-up-to N] [--record]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from _common import machine_line, record_result

DIM = 1280
K = 10


def embeddings(n: int, seed: int = 0) -> np.ndarray:
    """``n`` unit rows around ``n // 50`` centres, plus a few far from every centre."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(n // 50, 2), DIM), dtype=np.float32)
    x = centres[rng.integers(0, len(centres), n)]
    x += rng.standard_normal((n, DIM), dtype=np.float32) * np.float32(0.8)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _old(x: np.ndarray) -> np.ndarray:
    from cleanlab.outlier import OutOfDistribution

    ood = OutOfDistribution(params={"k": K})
    return np.clip(ood.fit_score(features=x, verbose=False), 0.0, 1.0)


def _new(x: np.ndarray) -> np.ndarray:
    from analysis.outliers import find_outliers

    return find_outliers(x, k=K).score


def _peak_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def child(method: str, n: int, out: Path) -> None:
    """One measurement in this fresh process: scores to ``out``, numbers as JSON on stdout."""
    x = embeddings(n)
    run = {"old": _old, "new": _new}[method]
    run(x[:64])  # imports and first-call set-up outside the measurement
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident set
    before = _peak_rss_kb()
    tracemalloc.start()
    start = time.perf_counter()
    scores = run(x)
    seconds = time.perf_counter() - start
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.save(out, scores)
    peak = (_peak_rss_kb() - before) / 1024
    print(json.dumps({"seconds": seconds, "rss_mb": peak, "traced_mb": traced / 2**20}))


def measure(method: str, n: int, folder: Path) -> tuple[dict, np.ndarray]:
    out = folder / f"{method}-{n}.npy"
    args = [sys.executable, __file__, "--child", method, str(n), str(out)]
    done = subprocess.run(args, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 50000])
    parser.add_argument("--record", action="store_true", help="replace the section in RESULTS.md")
    parser.add_argument(
        "--old-up-to", type=int, default=None, help="skip the old method above this N (slow)"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), Path(args.child[2]))
        return
    lines = [
        f"{machine_line()}; shared, loaded machine (2 cores shared with other jobs)",
        f"data: synthetic clustered {DIM}-d float32 unit embeddings, k={K}",
        f"{'N':>7} {'old s':>8} {'new s':>8} {'time':>6} {'old MB':>8} {'new MB':>8} "
        f"{'mem':>6} {'old tr':>8} {'new tr':>8} {'max |dscore|':>13} {'same flags':>10}",
    ]
    print("\n".join(lines), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            skip_old = args.old_up_to is not None and n > args.old_up_to
            lines.append(_compare(n, Path(tmp), skip_old=skip_old))
            print(lines[-1], flush=True)
            if args.record:  # after each size, so a long run keeps what it measured
                record_result("Outliers: all-pairs kNN vs blocked kNN", [*lines, *_legend()])


def _compare(n: int, folder: Path, *, skip_old: bool) -> str:
    """One table row: both methods at ``n`` (or the new one only)."""
    new, s_new = measure("new", n, folder)
    if skip_old:
        return (
            f"{n:>7} {'-':>8} {new['seconds']:>8.1f} {'-':>6} {'-':>8} {new['rss_mb']:>8.0f} "
            f"{'-':>6} {'-':>8} {new['traced_mb']:>8.0f}  (old not run)"
        )
    old, s_old = measure("old", n, folder)
    return (
        f"{n:>7} {old['seconds']:>8.1f} {new['seconds']:>8.1f} "
        f"{old['seconds'] / new['seconds']:>5.1f}x {old['rss_mb']:>8.0f} "
        f"{new['rss_mb']:>8.0f} {old['rss_mb'] / max(new['rss_mb'], 1):>5.1f}x "
        f"{old['traced_mb']:>8.0f} {new['traced_mb']:>8.0f} "
        f"{np.abs(s_old - s_new).max():>13.1e} {str(_flags(s_old) == _flags(s_new)):>10}"
    )


def _legend() -> list[str]:
    return [
        "columns: time and memory ratios are old / new; MB = peak resident set above the level",
        "  before the call; tr = peak of numpy allocations traced by tracemalloc;",
        "  same flags = both scores flag the same images (Q3 + 1.7 IQR rule)",
        f"load average after the last size: {os.getloadavg()[0]:.1f}",
    ]


def _flags(scores: np.ndarray) -> frozenset[int]:
    """The images the whisker rule flags (analysis.outliers), from the scores alone."""
    from analysis.outliers import OUTLIER_THRESHOLD

    dist = -np.log(np.maximum(scores, np.finfo(np.float64).tiny))
    q1, q3 = np.percentile(dist, [25, 75])
    return frozenset(np.flatnonzero(dist > q3 + (1 / OUTLIER_THRESHOLD - 1) * (q3 - q1)).tolist())


if __name__ == "__main__":
    main()
