"""Similarity API: latency and throughput against querying the engine directly, in one run.

For 10k and 100k points (1280-d clustered vectors, the default embedder's dimension, built
with the index benchmark's generator) in a Qdrant Edge shard:

- direct: the same two engine calls the API makes for search-by-task (read the task's
  stored vector, then a filtered k=10 search), in this process;
- API, sequential: ``GET /v1/search/task/{id}`` from a second process, one at a time;
- API, loaded: 8 concurrent clients in a second process for ``--seconds``: QPS, p50/p99 and
  errors; and 2 concurrent clients uploading a real JPEG to ``/v1/search/image`` (embedding
  the upload dominates that cost).

The server is ``winnow serve`` in its own process, as deployed.

    python benchmarks/similarity_api.py [--sizes 10000 100000] [--seconds 10] [--no-record]
    python benchmarks/similarity_api.py --rebuild-during [--sizes 10000] [--seconds 20]

``--rebuild-during`` measures build-and-swap instead: while 8 clients search, this process
builds a new index version (a copy of the current one plus 1% new points) and publishes it;
it reports errors during the run, how long the build took, how soon the API answered from
the new points, and what one swap (open the new version, switch) costs.

(Not named serve.py: run from this folder, that name would shadow the ``serve`` package in the
``winnow serve`` subprocess.)
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import machine_line, record_result
from index import DIM, clustered, points, upsert_all

from winnow.services.process import free_port, http_status

QUERIES = 400


def build(root: Path, n: int) -> None:
    from winnow.config import Settings
    from winnow.index import open_index

    index = open_index(Settings(data_dir=root))
    vectors, groups = clustered(n, DIM)
    upsert_all(index, vectors, groups)
    index.optimize()
    index.close()


def direct(root: Path, task_ids: np.ndarray) -> list[float]:
    from winnow.config import Settings
    from winnow.index import SearchFilter, open_index

    index = open_index(Settings(data_dir=root))
    times = []
    for task in task_ids:
        started = time.perf_counter()
        point = next(
            index.points(SearchFilter(project=1, task_ids=(int(task),)), with_vectors=True)
        )
        hits = index.search(point.vector, k=11, filter=SearchFilter(project=1))
        _ = [h for h in hits if h.id != point.id][:10]  # what the API does with them
        times.append(time.perf_counter() - started)
    index.close()
    return times


def start_server(root: Path, port: int) -> subprocess.Popen:
    env = dict(os.environ, WINNOW_DATA_DIR=str(root), WINNOW_SERVE__PROJECT="1")
    command = [sys.executable, "-m", "winnow", "serve", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while http_status(f"http://127.0.0.1:{port}/readyz") != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("the API did not become ready")
        time.sleep(0.5)
    return proc


def _load(
    url: str, task_ids: list[int], clients: int, seconds: float, upload: bytes | None, out: mp.Queue
) -> None:
    """Runs in a second process: ``clients`` concurrent loops for ``seconds``."""
    import httpx

    async def client(http: httpx.AsyncClient, seed: int, times: list, errors: list) -> None:
        rng, stop = np.random.default_rng(seed), time.monotonic() + seconds
        while time.monotonic() < stop:
            started = time.perf_counter()
            if upload is None:
                r = await http.get(f"/v1/search/task/{rng.choice(task_ids)}?k=10")
            else:
                r = await http.post("/v1/search/image?k=10", files={"file": ("q.jpg", upload)})
            times.append(time.perf_counter() - started)
            if r.status_code != 200:
                errors.append(r.status_code)

    async def main() -> tuple[list, list]:
        times, errors = [], []
        limits = httpx.Limits(max_connections=clients)
        async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
            await asyncio.gather(*(client(http, s, times, errors) for s in range(clients)))
        return times, errors

    times, errors = asyncio.run(main())
    out.put((times, errors))


def load(
    url: str, task_ids: list[int], clients: int, seconds: float, upload: bytes | None = None
) -> tuple[list[float], list[int]]:
    queue: mp.Queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(
        target=_load, args=(url, task_ids, clients, seconds, upload, queue)
    )
    proc.start()
    result = queue.get(timeout=seconds + 300)
    proc.join()
    return result


def ms(times: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(times) * 1e3, q))


def photo_jpeg() -> bytes:
    from PIL import Image
    from skimage import data

    out = io.BytesIO()
    Image.fromarray(data.chelsea()).save(out, format="JPEG", quality=90)
    return out.getvalue()


def row(
    name: str, times: list[float], seconds: float | None = None, errors: list[int] | None = None
) -> str:
    line = f"  {name:<30} p50 {ms(times, 50):6.2f} ms  p99 {ms(times, 99):6.2f} ms"
    if seconds is not None:
        line += f"  {len(times) / seconds:6.1f} req/s  errors {len(errors or [])}"
    return line


def bench(n: int, seconds: float) -> list[str]:
    rng = np.random.default_rng(3)
    task_ids = rng.integers(0, n, size=QUERIES).tolist()
    with tempfile.TemporaryDirectory(prefix="winnow-serve-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        build(root, n)
        built = time.perf_counter() - started
        d = direct(root, task_ids)
        port = free_port()
        server = start_server(root, port)
        url = f"http://127.0.0.1:{port}"
        try:
            seq, seq_err = load(url, task_ids, 1, seconds)
            loaded, load_err = load(url, task_ids, 8, seconds)
            up, up_err = load(url, task_ids, 2, seconds, upload=photo_jpeg())
        finally:
            server.terminate()
            server.wait(timeout=30)
    ratio = ms(seq, 50) / ms(d, 50)
    return [
        f"{n:>7} points (built in {built:.0f} s)",
        row("direct engine, task search", d),
        row("API sequential, task search", seq, seconds, seq_err),
        row("API 8 clients, task search", loaded, seconds, load_err),
        row("API 2 clients, image upload", up, seconds, up_err),
        f"  API/direct p50 ratio {ratio:.2f}x (target <= 1.5x); "
        f"p99 sequential {ms(seq, 99):.1f} ms (target < 20 ms at 100k)",
    ]


def rebuild(root: Path, n: int) -> tuple[dict[str, float], int]:
    """Publish a version with n // 100 new points; timings and the first new task id."""
    from winnow.config import Settings
    from winnow.index import build_index
    from winnow.index.copying import copy_shard
    from winnow.index.versions import VersionStore

    extra = max(n // 100, 1)
    vectors, groups = clustered(extra, DIM, seed=7)
    fresh = points(vectors, groups, start=n)
    store = VersionStore(root / "index", "winnow")
    started = time.perf_counter()
    copy_shard(store.current(), root / "copy-timing")  # the copy alone, timed apart
    timings = {"copy_s": time.perf_counter() - started}
    started = time.perf_counter()
    with build_index(Settings(data_dir=root)) as index:
        index.upsert(fresh)
        index.optimize()
    timings["build_and_publish_s"] = time.perf_counter() - started
    return timings, n


def swap_cost(root: Path, n: int) -> float:
    """One LiveIndex.refresh(): open the newly published version and switch to it."""
    from winnow.config import Settings
    from winnow.index import build_index, open_live_index

    settings = Settings(data_dir=root)
    live = open_live_index(settings, poll_s=3600)
    with build_index(settings) as index:
        index.upsert(points(*clustered(1, DIM, seed=9), start=n + n // 100 + 1))
    started = time.perf_counter()
    assert live.refresh()  # type: ignore[attr-defined]
    cost = time.perf_counter() - started
    live.close()
    return cost


def bench_rebuild(n: int, seconds: float) -> list[str]:
    import threading

    rng = np.random.default_rng(3)
    task_ids = rng.integers(0, n, size=QUERIES).tolist()
    with tempfile.TemporaryDirectory(prefix="winnow-serve-rebuild-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        build(root, n)
        full = time.perf_counter() - started
        port = free_port()
        server = start_server(root, port)
        url = f"http://127.0.0.1:{port}"
        result: dict[str, tuple] = {}
        try:
            steady, steady_err = load(url, task_ids, 8, seconds / 2)
            thread = threading.Thread(
                target=lambda: result.update(run=load(url, task_ids, 8, seconds))
            )
            thread.start()
            time.sleep(2)  # the clients are searching
            timings, new_task = rebuild(root, n)
            published = time.perf_counter()
            while http_status(f"{url}/v1/search/task/{new_task}") != 200:
                time.sleep(0.02)
            visible = time.perf_counter() - published
            thread.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
        swap = swap_cost(root, n)
    during, errors = result["run"]
    return [
        f"{n:>7} points, load average {os.getloadavg()[0]:.1f}",
        row("API 8 clients, no rebuild", steady, seconds / 2, steady_err),
        row("API 8 clients, rebuild during", during, seconds, errors),
        f"  copy of the current version {timings['copy_s']:.2f} s; build (copy, "
        f"{n // 100} upserts, optimize, fsync, publish) {timings['build_and_publish_s']:.2f} s; "
        f"full re-upsert and HNSW build instead {full:.1f} s",
        f"  new points answered {visible:.2f} s after publishing (pointer polled every 1 s)",
        f"  one refresh in the watcher thread (open the new version, switch, close the old) "
        f"{swap * 1e3:.0f} ms; requests run on the old version meanwhile",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--rebuild-during", action="store_true", help="measure build-and-swap")
    args = parser.parse_args()
    if args.rebuild_during:
        lines = [machine_line(), "server: `winnow serve` in its own process; Qdrant Edge"]
        for n in args.sizes:
            lines += bench_rebuild(n, args.seconds)
            print("\n".join(lines), flush=True)
        if not args.no_record:
            record_result("Similarity API during an index rebuild (build-and-swap)", lines)
        return
    lines = [
        machine_line(),
        "server: `winnow serve` (uvicorn, 1 worker) in its own process; "
        "load from a second process (httpx, asyncio)",
    ]
    for n in args.sizes:
        lines += bench(n, args.seconds)
        print("\n".join(lines), flush=True)
    if not args.no_record:
        record_result("Similarity API vs direct engine queries", lines)


if __name__ == "__main__":
    main()
