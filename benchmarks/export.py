"""Export throughput to local disk and to a real S3 server, and split quality.

Throughput: ``export_dataset`` on ~1,000 real-content JPEGs (the ``bench`` sample set,
~0.8 Mpx each) as folders + manifest + WebDataset shards, to a local directory and to a
SeaweedFS S3 started here (stopped at the end). Reported as images/s and MB/s of published
bytes (each image is stored twice: a loose file and a shard member), end to end (read, hash
check, write, checksums, card, publish), plus the verify rate. Beside it, the naive
baseline: the same files put to the same server by a plain 8-thread boto3 loop.

Splits: the greedy group-aware stratified assignment (``analysis.splits``) against
scikit-learn's StratifiedGroupKFold (10 folds taken 8/1/1 for 80/10/10) on a synthetic
imbalanced label set with near-duplicate groups: share error, class-mix error, time, and
how many items keep their split when the data grows by 10% (StratifiedGroupKFold has no
notion of an existing assignment, so it is simply re-run).

    python benchmarks/export.py [--count 1000] [--work DIR] [--record]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from _common import machine_line, record_result
from PIL import Image
from pydantic import SecretStr

from analysis.splits import assign_splits, split_report
from sync.export.job import export_dataset
from sync.export.plan import ExportOptions
from sync.export.verify import verify_export
from winnow.config import S3Settings, get_settings
from winnow.samples import build_bench
from winnow.services.seaweedfs import SeaweedFS

FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}
OPTIONS = ExportOptions(formats=("folders", "manifest", "webdataset"))


def bench_records(folder: Path, count: int) -> pd.DataFrame:
    if not folder.is_dir() or len(list(folder.glob("*.jpg"))) < count:
        build_bench(folder, count=count)
    rows = []
    for i, path in enumerate(sorted(folder.glob("*.jpg"))[:count]):
        data = path.read_bytes()
        with Image.open(path) as image:
            width, height = image.size
        rows.append(
            {
                "task_id": i + 1,
                "image": str(path),
                "labels": [path.stem.split("_", 1)[1]],
                "sha256": hashlib.sha256(data).hexdigest(),
                "width": width,
                "height": height,
                "source": str(path),
                "licence": "see winnow.samples",
            }
        )
    return pd.DataFrame(rows)


def _resolve(row: pd.Series) -> bytes:
    return Path(row["image"]).read_bytes()


def timed_export(records: pd.DataFrame, dest: str, settings) -> list[str]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = export_dataset(records, dest, settings=settings, resolve=_resolve, options=OPTIONS)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    report = verify_export(result.url, settings)
    verify_s = time.perf_counter() - start
    assert report.ok, report.problems[:5]
    n, mb = len(result.manifest), result.bytes / 1e6
    return [
        f"{dest.split(':')[0] if '://' in dest else 'local'}: {n} images, {result.files} "
        f"files, {mb:.0f} MB in {seconds:.1f} s = {n / seconds:.0f} images/s, "
        f"{mb / seconds:.0f} MB/s; verify {mb / verify_s:.0f} MB/s"
    ]


def raw_upload(server: SeaweedFS, bucket: str, folder: Path) -> list[str]:
    """The naive baseline: the same files put with 8 threads, no checksums, no atomicity."""
    from concurrent.futures import ThreadPoolExecutor

    client = server.client()
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()]

    def put(path: Path) -> None:
        key = f"raw/{path.relative_to(folder).as_posix()}"
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, files))
    seconds = time.perf_counter() - start
    mb = sum(p.stat().st_size for p in files) / 1e6
    return [
        f"s3 raw put_object x8 threads (same files, upload only): {mb:.0f} MB in "
        f"{seconds:.1f} s = {mb / seconds:.0f} MB/s"
    ]


def split_comparison(n: int = 20_000, seed: int = 0) -> list[str]:
    from sklearn.model_selection import StratifiedGroupKFold

    rng = np.random.default_rng(seed)
    probs = np.array([0.4, 0.2, 0.12, 0.1, 0.08, 0.05, 0.03, 0.015, 0.01, 0.005])
    labels = rng.choice(len(probs), size=n, p=probs / probs.sum()).astype(str)
    groups = np.repeat(np.arange(n), rng.geometric(0.6, n))[:n]  # near-duplicate clusters
    lines = [
        f"splits: {n} items, 10 classes (40% .. 0.5%), {len(np.unique(groups))} groups "
        f"(largest {np.bincount(groups).max()})"
    ]
    start = time.perf_counter()
    greedy = assign_splits(labels, fractions=FRACTIONS, groups=groups, seed=seed)
    greedy_s = time.perf_counter() - start
    start = time.perf_counter()
    folds = np.empty(n, dtype=object)
    cv = StratifiedGroupKFold(n_splits=10, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(cv.split(np.zeros(n), labels, groups)):
        folds[test] = "test" if k == 0 else "val" if k == 1 else "train"
    sgkf_s = time.perf_counter() - start
    for name, splits, seconds in (("greedy", greedy, greedy_s), ("sgkf", folds, sgkf_s)):
        r = split_report(splits, labels, FRACTIONS)
        lines.append(
            f"  {name:6s}: share error {r['fraction_error']:.4f}, class-mix error "
            f"{r['class_error']:.4f}, {seconds:.2f} s"
        )
    lines.append(_growth(labels, groups, greedy, seed))
    return lines


def _growth(labels: np.ndarray, groups: np.ndarray, old: np.ndarray, seed: int) -> str:
    from sklearn.model_selection import StratifiedGroupKFold

    rng = np.random.default_rng(seed + 1)
    extra = len(labels) // 10
    labels2 = np.concatenate([labels, rng.choice(labels, extra)])
    groups2 = np.concatenate([groups, groups.max() + 1 + np.arange(extra)])
    existing = list(old) + [None] * extra
    grown = assign_splits(
        labels2, fractions=FRACTIONS, groups=groups2, existing=existing, seed=seed
    )
    folds = np.empty(len(labels2), dtype=object)
    cv = StratifiedGroupKFold(n_splits=10, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(cv.split(np.zeros(len(labels2)), labels2, groups2)):
        folds[test] = "test" if k == 0 else "val" if k == 1 else "train"
    cv_old = np.empty(len(labels), dtype=object)
    for k, (_, test) in enumerate(cv.split(np.zeros(len(labels)), labels, groups)):
        cv_old[test] = "test" if k == 0 else "val" if k == 1 else "train"
    kept = np.mean(grown[: len(labels)] == old)
    kept_cv = np.mean(folds[: len(labels)] == cv_old)
    r = split_report(grown, labels2, FRACTIONS)
    return (
        f"  growth +10%: greedy keeps {kept:.1%} of splits (share error "
        f"{r['fraction_error']:.4f}); sgkf re-run keeps {kept_cv:.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path("build/bench-export"))
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    records = bench_records(args.work / "bench", args.count)
    lines = [machine_line()]
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        settings = get_settings(data_dir=Path(tmp) / "data")
        lines += timed_export(records, str(Path(tmp) / "local"), settings)
        server = SeaweedFS(Path(tmp) / "weed").start()
        try:
            s3 = S3Settings(
                endpoint_url=server.endpoint_url,
                access_key_id=SecretStr(server.access_key),
                secret_access_key=SecretStr(server.secret_key),
            )
            bucket = server.create_bucket(f"bench-{uuid.uuid4().hex[:6]}")
            lines += raw_upload(server, bucket, Path(tmp) / "local" / "v1.0")
            lines += timed_export(
                records, f"s3://{bucket}/bench", get_settings(data_dir=Path(tmp) / "data", s3=s3)
            )
        finally:
            server.stop()
    lines += split_comparison()
    print("\n".join(lines))
    if args.record:
        record_result("Export throughput and split quality", lines)


if __name__ == "__main__":
    main()
