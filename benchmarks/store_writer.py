"""The feature store's single SQLite writer: its images a second, and the route past it.

Every feature run ends in one process writing the content-addressed store (records, sources and a
1280-d float32 embedding per image). This measures that writer with synthetic rows of the real
shape, at several commit sizes, beside the naive baseline of one commit per image; then the route
past one writer: separate stores written in parallel processes (one per node), whose rate adds up
because SQLite's lock is per file.

    python benchmarks/store_writer.py [--n 20000] [--dim 1280] [--shards 2] [--record]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine_line, record_result

from winnow.features.measure import ImageMeasurements
from winnow.store.feature_store import FeatureStore, ImageRecord, SourceRecord

MODEL_ID = "bench-model"


def _records(start: int, n: int, dim: int) -> tuple[list, list, list[str], np.ndarray]:
    rng = np.random.default_rng(start)
    fields = ImageMeasurements.__dataclass_fields__
    shas = [f"{i:064x}" for i in range(start, start + n)]
    images = [
        ImageRecord(
            sha256=s,
            n_bytes=131_000,
            format="JPEG",
            width=1024,
            height=768,
            mode="RGB",
            measurements=ImageMeasurements(**{k: 1 for k in fields}),
        )
        for s in shas
    ]
    sources = [SourceRecord(uri=f"s3://bucket/{s}.jpg", sha256=s, size=131_000) for s in shas]
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    return images, sources, shas, vectors


def write(path: Path, start: int, n: int, dim: int, batch: int) -> float:
    """Images per second for ``n`` rows written ``batch`` per commit, as the feature sink does."""
    images, sources, shas, vectors = _records(start, n, dim)
    with FeatureStore(path) as store:
        began = time.perf_counter()
        for lo in range(0, n, batch):
            hi = lo + batch
            store.put_images(images[lo:hi])
            store.put_sources(sources[lo:hi])
            store.put_embeddings(MODEL_ID, shas[lo:hi], vectors[lo:hi])
        return n / (time.perf_counter() - began)


def _shard(args: tuple[str, int, int, int, int]) -> float:
    path, start, n, dim, batch = args
    return write(Path(path), start, n, dim, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--shards", type=int, default=2, help="parallel writers, one store each")
    parser.add_argument("--record", action="store_true", help="write benchmarks/RESULTS.md")
    args = parser.parse_args()
    lines = [machine_line(), f"{args.n:,} images, {args.dim}-d float32 embeddings"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        naive_n = min(args.n, 2_000)
        naive = write(root / "naive.sqlite", 0, naive_n, args.dim, 1)
        lines.append(f"naive, one commit per image ({naive_n:,} images): {naive:,.0f} img/s")
        rates = {}
        for batch in (16, 256, 1024):
            rates[batch] = write(root / f"b{batch}.sqlite", 0, args.n, args.dim, batch)
            lines.append(
                f"one writer, {batch} per commit: {rates[batch]:,.0f} img/s "
                f"({rates[batch] / naive:.1f}x naive)"
            )
        per = args.n // args.shards
        jobs = [
            (str(root / f"shard{i}.sqlite"), i * per, per, args.dim, 256)
            for i in range(args.shards)
        ]
        began = time.perf_counter()
        with mp.get_context("spawn").Pool(args.shards) as pool:
            pool.map(_shard, jobs)
        total = args.shards * per / (time.perf_counter() - began)
        lines.append(
            f"{args.shards} writers, one store each, 256 per commit: {total:,.0f} img/s in all "
            f"({total / rates[256]:.1f}x one writer; includes process start-up)"
        )
    print("\n".join(lines))
    if args.record:
        record_result("Feature store writer ceiling", lines)


if __name__ == "__main__":
    main()
