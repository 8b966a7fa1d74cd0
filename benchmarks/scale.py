"""Scale: the Ray Data engine against the single-machine path, on the same real images.

Both fill a fresh feature store from the same folder of 0.8 Mpx JPEGs (cropped from real
photos by ``winnow samples --which bench``), with the same offline ImageNet backbone:
- local: ``extract_features`` (decode worker processes + batched embedding in-process);
- ray: ``extract_features_ray`` on a local Ray with this machine's CPUs (decode tasks, one
  embedding actor with half a CPU below 4 cores).
The time to the first stored batch is reported too (for Ray: Ray start, actor start and
model load, plus the first 256 images, since the driver writes 256 at a time; a "rate after
the first batch" would mostly measure Ray's prefetching, so none is given). The script also
times the two stages on one core in this process: the CPU-seconds per image that the paper
estimate in docs/scale.md multiplies out. The load average is recorded, because other work
on the machine changes every number.

    python benchmarks/scale.py --folder build/samples/scale --count 2000 [--record]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine_line, record_result

from winnow.config import get_settings
from winnow.features.walk import scan_folder


def run_engine(engine: str, items: list, workdir: Path) -> tuple[float, float]:
    """(seconds end to end, seconds to the first stored batch) for one engine filling a
    fresh store with ``items``, model load included."""
    from winnow.features.extract import extract_features
    from winnow.features.ray_engine import RayOptions, extract_features_ray
    from winnow.models import make_embedder
    from winnow.store import FeatureStore

    settings = get_settings(data_dir=Path(tempfile.mkdtemp(dir=workdir)))
    marks: list[float] = []
    started = time.perf_counter()
    embedder = make_embedder(settings.embedding)
    common = {
        "settings": settings,
        "embedder": embedder,
        "progress": lambda n: marks.append(time.perf_counter()),
    }
    with FeatureStore(settings.store_path) as store:
        if engine == "ray":
            report = extract_features_ray(items, store=store, options=RayOptions(), **common)
        else:
            report = extract_features(items, store=store, **common)
        assert report.failed == 0 and report.embedded == len(items), report
    return time.perf_counter() - started, marks[0] - started


def stage_costs(items: list, n: int = 200) -> tuple[float, float]:
    """(decode+hash+measure, embed) CPU-seconds per image, each on one core."""
    import torch

    from winnow.features.worker import ItemProcessor, WorkerConfig
    from winnow.models import make_embedder

    torch.set_num_threads(1)
    settings = get_settings(data_dir=Path(tempfile.mkdtemp()))
    embedder = make_embedder(settings.embedding)
    processor = ItemProcessor(WorkerConfig(settings, embedder.model_id, embedder.input_spec))
    started = time.perf_counter()
    arrays = [processor(item).embed_input for item in items[:n]]
    decode = (time.perf_counter() - started) / n
    batch = np.stack(arrays)
    embedder.embed_arrays(batch[:32])  # warm-up
    started = time.perf_counter()
    for i in range(0, n, 32):
        embedder.embed_arrays(batch[i : i + 32])
    return decode, (time.perf_counter() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", type=Path, default=Path("build/samples/scale"))
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if len(list(args.folder.glob("*.jpg"))) < args.count:
        from winnow.samples import build_bench

        build_bench(args.folder, count=args.count)
    items = scan_folder(args.folder).items[: args.count]
    decode_s, embed_s = stage_costs(items)
    import ray

    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    workdir = Path(tempfile.mkdtemp(prefix="winnow-scale-"))
    rows = {engine: run_engine(engine, items, workdir) for engine in ("local", "ray")}
    lines = [
        machine_line(),
        f"load average before: {os.getloadavg()[0]:.1f}",
        f"{len(items)} JPEGs of ~0.8 Mpx (bench set), EfficientNet-Lite0",
        f"one core: decode+hash+measure {decode_s * 1e3:.1f} ms/img, "
        f"embed {embed_s * 1e3:.1f} ms/img (batches of 32)",
    ]
    for engine, (total, first) in rows.items():
        rate = len(items) / total
        lines.append(
            f"{engine:5s}: {total:6.1f} s end to end = {rate:5.1f} img/s; first batch "
            f"stored after {first:4.1f} s"
        )
    lines.append(
        f"ray / local end to end: {rows['local'][0] / rows['ray'][0]:.2f}x; "
        f"load average after: {os.getloadavg()[0]:.1f}"
    )
    print("\n".join(lines))
    if args.record:
        record_result("Scale: Ray Data engine vs single machine", lines)


if __name__ == "__main__":
    main()
