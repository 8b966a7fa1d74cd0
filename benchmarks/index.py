"""Vector index: upsert throughput, query latency and recall, Qdrant Edge vs qdrant-client local.

Data: synthetic clustered unit vectors at the real dimension of the default embedder
(EfficientNet-Lite0, 1280-d): 200 clusters, within-cluster cosine about 0.7, payloads as
`winnow index` writes them. Queries are held-out noisy copies of indexed points; recall@10
is against exact (numpy) cosine search. Both engines go through Winnow's own classes
(``EdgeIndex``, ``ServerIndex.local_mode``), so the numbers include our batching.

qdrant-client's local mode is pure Python and scans exhaustively: beyond ``--local-max``
points its upsert is measured on that many points and scaled linearly, and its query latency
is scaled linearly from the largest measured size; those rows say "extrapolated".

    python benchmarks/index.py [--sizes 10000 100000] [--int8] [--compare-payload-m] [--no-record]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine_line, record_result

from winnow.config import IndexSettings
from winnow.index import IndexPoint, SearchFilter, VectorIndex
from winnow.index.edge import EdgeIndex
from winnow.index.server import ServerIndex

DIM = 1280
BATCH = 1024
HEADER = "engine                points  upsert/s  build s    p50 ms    p99 ms  filt p50  recall@10"


def clustered(
    n: int, dim: int, *, clusters: int = 200, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around random centres (noise 0.65 x centre scale) and their cluster."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    which = rng.integers(0, clusters, size=n)
    vectors = centres[which] + 0.65 * rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, which


def points(vectors: np.ndarray, groups: np.ndarray, start: int = 0) -> list[IndexPoint]:
    return [
        IndexPoint(
            f"{start + i:064x}",
            vectors[i],
            {
                "task_id": start + i,
                "task_ids": [start + i],
                "labels": [f"c{g}"],
                "label": f"c{g}",
                "split": "train",
                "flags": ["label_issue"] if i % 20 == 0 else [],
                "url": f"/data/upload/1/{start + i}.jpg",
                "project": 1,
            },
        )
        for i, g in enumerate(groups)
    ]


def upsert_all(index: VectorIndex, vectors: np.ndarray, groups: np.ndarray) -> float:
    started = time.perf_counter()
    for s in range(0, len(vectors), BATCH):
        index.upsert(points(vectors[s : s + BATCH], groups[s : s + BATCH], start=s))
    return time.perf_counter() - started


def query_stats(index: VectorIndex, queries: np.ndarray, vectors: np.ndarray) -> dict[str, float]:
    """p50/p99 latency (ms) and recall@10 against exact search; plus a filtered p50."""
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    times, recalls = [], []
    for q, truth in zip(queries, exact, strict=True):
        started = time.perf_counter()
        hits = index.search(q, k=10)
        times.append(time.perf_counter() - started)
        recalls.append(len({h.payload["task_id"] for h in hits} & set(truth.tolist())) / 10)
    flt = SearchFilter(labels=["c1", "c2", "c3"], exclude_flagged=True)
    filtered = []
    for q in queries[:50]:
        started = time.perf_counter()
        index.search(q, k=10, filter=flt)
        filtered.append(time.perf_counter() - started)
    ms = np.array(times) * 1000
    return {
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
        "recall": float(np.mean(recalls)),
        "filtered_p50": float(np.median(filtered) * 1000),
    }


def make_queries(vectors: np.ndarray, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picked = vectors[rng.choice(len(vectors), n, replace=False)]
    noisy = picked + 0.5 * rng.normal(size=picked.shape).astype(np.float32) / np.sqrt(DIM)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def bench_edge(vectors, groups, queries, work: Path, settings: IndexSettings) -> dict[str, float]:
    name = f"edge-{len(vectors)}-{settings.quantization}-pm{settings.hnsw_payload_m}"
    index = EdgeIndex(work / name, settings)
    upsert = upsert_all(index, vectors, groups)
    started = time.perf_counter()
    index.optimize()
    build = time.perf_counter() - started
    stats = query_stats(index, queries, vectors)
    index.close()
    return {"upsert_s": upsert, "build_s": build, **stats}


def bench_local(vectors, groups, queries, local_max: int) -> dict[str, float]:
    n = min(len(vectors), local_max)
    index = ServerIndex.local_mode(":memory:")
    upsert = upsert_all(index, vectors[:n], groups[:n]) * len(vectors) / n
    stats = query_stats(index, queries[:50], vectors[:n])
    index.close()
    scale = len(vectors) / n
    stats["p50"], stats["p99"] = stats["p50"] * scale, stats["p99"] * scale
    stats["filtered_p50"] *= scale
    return {"upsert_s": upsert, "build_s": 0.0, **stats, "extrapolated": float(n < len(vectors))}


def row(engine: str, n: int, r: dict[str, float]) -> str:
    note = " (extrapolated from a subset)" if r.get("extrapolated") else ""
    recall = "n/a" if r.get("extrapolated") else f"{r['recall']:.3f}"
    speed = n / r["upsert_s"]
    return (
        f"{engine:<20} {n:>7}  {speed:>8.0f}  {r['build_s']:>7.1f}  {r['p50']:>8.2f}  "
        f"{r['p99']:>8.2f}  {r['filtered_p50']:>8.2f}  {recall:>9}{note}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--local-max", type=int, default=10_000)
    parser.add_argument("--int8", action="store_true", help="also Edge with int8 quantisation")
    parser.add_argument(
        "--compare-payload-m",
        action="store_true",
        help="also Edge with per-payload-value graphs (payload_m=16, the engine's old default)",
    )
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    lines = [
        machine_line(),
        f"load average at start: {os.getloadavg()[0]:.1f}",
        f"{DIM}-d clustered unit vectors (EfficientNet-Lite0 dimension), 200 clusters, "
        f"{args.queries} queries, k=10, HNSW m=16 ef_construct=100 payload_m=0 (defaults)",
        HEADER,
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            vectors, groups = clustered(n, DIM)
            queries = make_queries(vectors, args.queries)
            variants = [("edge", IndexSettings())]
            if args.int8:
                variants.append(("edge int8", IndexSettings(quantization="int8")))
            if args.compare_payload_m:
                variants.append(("edge payload_m=16", IndexSettings(hnsw_payload_m=16)))
            for name, settings in variants:
                lines.append(
                    row(name, n, bench_edge(vectors, groups, queries, Path(tmp), settings))
                )
                print(lines[-1], flush=True)
            lines.append(
                row("qdrant-client local", n, bench_local(vectors, groups, queries, args.local_max))
            )
            print(lines[-1], flush=True)
    lines.append(
        "upsert/s includes payloads and Winnow's validation; build = Edge optimize() "
        "(HNSW graph); filt = labels any-of 3 clusters AND no open flags"
    )
    if not args.no_record:
        record_result("Vector index: Qdrant Edge vs qdrant-client local mode", lines)


if __name__ == "__main__":
    main()
