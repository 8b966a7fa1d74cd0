"""Speed of a whole-folder audit: ``winnow audit`` against cleanvision and fastdup, one run.

The folder: ``winnow.samples.build_bench`` JPEGs (real photo content, about 0.8 Mpx each;
5,000 by default). Every tool starts cold: Winnow with an empty feature store, each peer in a
fresh process from its own virtualenv (``peers/setup.sh``). Timed runs, one after the other:

- ``winnow audit DIR --out OUT``, once per ``--runtimes`` entry (``embedding.runtime``, and
  ``embedding.precision`` after a colon):
  features (decode, hashes, quality measurements, EfficientNet-Lite0 embeddings) and every
  check (duplicates, quality, outliers; no labels in this folder);
- ``winnow audit --no-embed``: the same without the embedding model (no near duplicates by
  embedding, no outliers), which is what cleanvision computes;
- ``winnow audit`` again on the filled store with its pixel caches emptied (the features are
  cache hits; the duplicate checks read the pixels again, as a first audit after extraction);
- ``winnow audit`` once more (the keeper's signals and the pairs' matches are cache hits too:
  what a repeated audit of unchanged files costs);
- cleanvision 0.3.7 ``find_issues()`` with all its default issue types;
- fastdup 2.54 ``run()`` with its defaults (ONNX embeddings, kNN, components, stats).

Times are wall clock of the whole process, start-up included (the peers' in-process time is
printed too). The machine is shared: the load average before each run is printed.

    python benchmarks/audit_speed.py [--count 5000] [--folder DIR]
        [--runtimes openvino:bf16,openvino,torch]
        [--record]
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import machine_line, record_result, runtime_env
from _peers import run_peer

from winnow.samples import build_bench

WINNOW = Path(sys.executable).with_name("winnow")


def run_winnow(folder: Path, store: Path, out: Path, *extra: str, runtime: str = "auto") -> dict:
    """One ``winnow audit`` process; wall seconds, the features' own seconds, findings."""
    env = {
        **os.environ,
        "WINNOW_DATA_DIR": str(store),
        **runtime_env(runtime),
        "COLUMNS": "160",
    }
    command = [str(WINNOW), "audit", str(folder), "--out", str(out), *extra]
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"error": done.stderr[-800:], "wall_seconds": wall, "load": load}
    features = re.search(r"seconds\s*│\s*([\d.]+)", done.stdout)
    issues = pd.read_csv(out / "issues.csv")
    return {
        "wall_seconds": wall,
        "load": load,
        "features_seconds": float(features.group(1)) if features else float("nan"),
        "images": len(pd.read_parquet(out / "images.parquet")),
        "findings": issues.groupby("issue_type").size().to_dict(),
    }


def run_peer_timed(script: str, args: list[str], log: Path) -> dict:
    load = os.getloadavg()[0]
    return {**run_peer(script, args, log=log, timeout=1200), "load": load}


def describe(name: str, r: dict, n: int, base: float | None) -> list[str]:
    if "error" in r:
        return [f"{name}: FAILED after {r['wall_seconds']:.0f} s: {r['error'][:300]}"]
    wall = r["wall_seconds"]
    inner = f", in-process {r['seconds']:.1f} s" if "seconds" in r else ""
    feats = f", features {r['features_seconds']:.1f} s" if "features_seconds" in r else ""
    ratio = f", {wall / base:.2f}x the time of winnow audit" if base else ""
    found = ", ".join(f"{k} {v}" for k, v in sorted(r.get("findings", {}).items()))
    return [
        f"{name}: {wall:.1f} s wall = {n / wall:.1f} img/s (load {r['load']:.1f} before"
        f"{inner}{feats}{ratio}); images seen {r.get('images', '?')}",
        f"    findings: {found or 'none'}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="images to build")
    parser.add_argument("--folder", type=Path, help="an existing folder instead of building")
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    parser.add_argument(
        "--runtimes",
        default="auto",
        help="comma-separated runtime[:precision] for the cold audit, e.g. openvino:bf16,torch",
    )
    args = parser.parse_args()
    runtimes = [r.strip() for r in args.runtimes.split(",") if r.strip()]
    with tempfile.TemporaryDirectory(prefix="winnow-auditspeed-") as tmp:
        work = Path(tmp)
        folder = (args.folder or work / "bench").resolve()  # the peers run in another cwd
        start = time.perf_counter()
        n = build_bench(folder, count=args.count) if not args.folder else _count(folder)
        build_s = time.perf_counter() - start
        runs = {
            _cold(runtime): run_winnow(
                folder, work / f"s1-{runtime}", work / f"o1-{runtime}", runtime=runtime
            )
            for runtime in runtimes
        }
        runs |= {
            "winnow audit --no-embed (cold store)": run_winnow(
                folder, work / "s2", work / "o2", "--no-embed"
            ),
            "winnow audit (warm store: features cached, pixel caches dropped)": run_winnow(
                folder,
                _drop_pixel_caches(work / f"s1-{runtimes[0]}"),
                work / "o3",
                runtime=runtimes[0],
            ),
            "winnow audit again (features and pixel caches warm)": run_winnow(
                folder, work / f"s1-{runtimes[0]}", work / "o4", runtime=runtimes[0]
            ),
            "cleanvision (all default issue types)": run_peer_timed(
                "run_cleanvision.py", [str(folder)], work / "peers.log"
            ),
            "fastdup (defaults)": run_peer_timed(
                "run_fastdup.py", [str(folder), str(work / "fastdup")], work / "peers.log"
            ),
        }
        lines = report(runs, n, folder, build_s, bool(args.folder))
    print("\n".join(lines))
    if args.record:
        record_result("Audit speed: winnow audit vs cleanvision and fastdup", lines)


def _drop_pixel_caches(store: Path) -> Path:
    """Empty the store's cache of keeper signals and pair matches, keep the features: what
    the checks cost when they must read the pixels again (a first audit after extraction)."""
    with sqlite3.connect(store / "features.sqlite") as db:
        db.execute("DELETE FROM measures")
    return store


def _cold(runtime: str) -> str:
    return f"winnow audit (cold store, runtime {runtime})"


def report(runs: dict, n: int, folder: Path, build_s: float, given: bool) -> list[str]:
    base = next(iter(runs.values())).get("wall_seconds")  # the first runtime's cold audit
    source = str(folder) if given else f"built by build_bench in {build_s:.0f} s (not timed)"
    lines = [
        machine_line() + f"; load average {os.getloadavg()[0]:.1f} at the end "
        "(2 cores shared with other work)",
        f"data: {n:,} real-content JPEGs (~0.8 Mpx), {source}",
    ]
    for name, r in runs.items():
        lines += describe(name, r, n, None if name.startswith("winnow audit (cold s") else base)
    lines.append(
        "note: crops of 43 photos overlap, so near-duplicate counts are high by "
        "construction; the tools define findings differently (counts, not accuracy)"
    )
    return lines


def _count(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})


if __name__ == "__main__":
    main()
