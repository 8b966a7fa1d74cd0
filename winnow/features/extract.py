"""Fill the feature store for a list of images, in parallel, computing nothing twice.

The main process first drops items whose local file is unchanged since the last run (same
size and mtime, features and embedding present): a re-run touches no pixels. The rest go in
chunks to worker processes (read, sha256, decode with JPEG draft mode, hash, measure,
prepare the network input); the main process embeds their arrays in batches and writes
results as they arrive, so an interrupted run resumes where it stopped. One bad image is
recorded with its reason and never stops the batch.

Local files are read under the image reader's policy: items from data (task JSON, URL
lists) only under ``io.local_roots``, items from a folder the operator named under
``trusted_roots`` too. An item outside them is neither read nor stat'ed.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from winnow.config import Settings
from winnow.errors import WinnowError
from winnow.features.walk import SourceItem, is_remote, local_stat
from winnow.features.worker import (
    ItemProcessor,
    WorkerConfig,
    WorkResult,
    init_worker,
    process_chunk,
)
from winnow.models.embedder import Embedder
from winnow.progress import Advance
from winnow.store.feature_store import FeatureStore, SourceRecord

_CHUNK = 16


@dataclass
class ExtractionReport:
    """Counts for one run. ``cache_hits`` are items needing no work; ``computed`` items were
    decoded now; ``failed`` items are unusable, whether found now or known from before."""

    total: int = 0
    cache_hits: int = 0
    computed: int = 0
    embedded: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # kind -> count
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # uri, kind, reason
    seconds: float = 0.0

    def record_failure(self, uri: str, kind: str, reason: str) -> None:
        self.failed += 1
        self.errors[kind] += 1
        self.failures.append((uri, kind, reason))

    @property
    def images_per_second(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0


def extract_features(
    items: Sequence[SourceItem],
    *,
    settings: Settings,
    store: FeatureStore,
    embedder: Embedder | None = None,
    progress: Advance | None = None,
    trusted_roots: Sequence[Path] = (),
) -> ExtractionReport:
    """Compute and store features (and embeddings, if ``embedder`` is given) for ``items``.

    ``trusted_roots``: folders the operator named whose files may be read besides
    ``io.local_roots`` (a scanned folder; never a path taken from data)."""
    started = time.perf_counter()
    report, todo, config = prepare_run(
        items,
        settings=settings,
        store=store,
        embedder=embedder,
        progress=progress,
        trusted_roots=trusted_roots,
    )
    sink = Sink(store, embedder, report, batch_size=settings.embedding.batch_size)
    for results in _run(todo, config, _worker_count(settings, len(todo), embedder)):
        sink.add(results)
        if progress:
            progress(len(results))
    sink.flush()
    report.seconds = time.perf_counter() - started
    return report


def prepare_run(
    items: Sequence[SourceItem],
    *,
    settings: Settings,
    store: FeatureStore,
    embedder: Embedder | None,
    progress: Advance | None,
    trusted_roots: Sequence[Path] = (),
) -> tuple[ExtractionReport, list[SourceItem], WorkerConfig]:
    """What every engine does first: set aside unchanged items (counting the known-bad ones
    among them), and describe the per-image work. Returns (report, items to do, config)."""
    report = ExtractionReport(total=len(items))
    config = WorkerConfig(
        settings=settings,
        model_id=embedder.model_id if embedder else None,
        input_spec=None,  # asked for below, only when there is work: it loads a lazy model
        trusted_roots=tuple(trusted_roots),
    )
    todo, hits = _split_unchanged(items, store, embedder, config.local_roots)
    if todo and embedder is not None:
        config = replace(config, input_spec=embedder.input_spec)
    report.cache_hits = len(hits)
    for uri, (kind, reason) in _known_failures(hits, store).items():
        report.record_failure(uri, kind, reason)
    if progress and hits:
        progress(len(hits))
    return report, todo, config


def _worker_count(settings: Settings, n_items: int, embedder: Embedder | None) -> int:
    """Explicit setting wins; none for tiny batches. Torch inference is slow enough to need
    half the cores: on 2 cores (1000 JPEGs of 0.8 Mpx) 1 worker + 2 torch threads ran at
    49 img/s, 2 + 2 at 40, 2 + 1 at 36. OpenVINO is about 4x faster, so decoding is the
    floor and every core gets a worker (2 + 1 OpenVINO thread 20 img/s vs 1 + 2 at 16 on a
    loaded machine, see :func:`winnow.models.openvino_runtime.default_threads`). Without
    embedding, one per core."""
    if settings.features.workers is not None:
        return settings.features.workers
    if n_items < 2 * _CHUNK:
        return 0
    cores = os.cpu_count() or 1
    if embedder is None or getattr(embedder, "runtime", "torch") == "openvino":
        return cores
    return max(1, cores // 2)


def _split_unchanged(
    items: Sequence[SourceItem],
    store: FeatureStore,
    embedder: Embedder | None,
    roots: Sequence[Path],
) -> tuple[list[SourceItem], list[SourceRecord]]:
    """Split into items needing work (new, changed, failed to read, lacking features or the
    embedding) and the stored records of those that need none."""
    previous = store.sources_by_uri(item.uri for item in items)
    shas = {rec.sha256 for rec in previous.values() if rec.sha256}
    ready = store.complete(shas, embedder.model_id if embedder else None)
    todo, hits = [], []
    for item in items:
        rec = previous.get(item.uri)
        unchanged = (
            rec is not None
            and rec.sha256 in ready
            and (rec.label, rec.split) == (item.label, item.split)
            and _same_stat(item.uri, rec.size, rec.mtime_ns, roots)
        )
        if unchanged:
            hits.append(rec)
        else:
            todo.append(item)
    return todo, hits


def _known_failures(hits: list[SourceRecord], store: FeatureStore) -> dict[str, tuple[str, str]]:
    errors = store.image_errors(rec.sha256 for rec in hits)
    return {rec.uri: errors[rec.sha256] for rec in hits if rec.sha256 in errors}


def _same_stat(uri: str, size: int | None, mtime_ns: int | None, roots: Sequence[Path]) -> bool:
    if is_remote(uri):  # a URL or S3 key: content at a recorded address is taken as immutable
        return True
    stat = local_stat(uri, roots)  # None outside the roots: read again, and refused there
    return stat is not None and stat == (size, mtime_ns)


def _run(todo: list[SourceItem], config: WorkerConfig, workers: int) -> Iterator[list[WorkResult]]:
    chunks = [todo[i : i + _CHUNK] for i in range(0, len(todo), _CHUNK)]
    if workers == 0:
        processor = ItemProcessor(config)
        for chunk in chunks:
            yield [processor(item) for item in chunk]
        return
    ctx = get_context("spawn")  # no fork after torch threads exist
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=init_worker, initargs=(config,)
    ) as pool:
        pending: set[Future[list[WorkResult]]] = set()
        queue = iter(chunks)
        while True:
            while len(pending) < 4 * workers and (chunk := next(queue, None)) is not None:
                pending.add(pool.submit(process_chunk, chunk))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    yield future.result()
                except BrokenProcessPool as exc:
                    raise WinnowError(
                        "a feature worker process died (out of memory, or a crash in an image "
                        "decoder); everything computed so far is stored, and a re-run resumes"
                    ) from exc


class Sink:
    """Collects worker results, embeds in batches and writes to the store."""

    def __init__(
        self,
        store: FeatureStore,
        embedder: Embedder | None,
        report: ExtractionReport,
        *,
        batch_size: int,
    ) -> None:
        self.store, self.embedder, self.report = store, embedder, report
        self.batch_size = batch_size
        self.pending: list[tuple[str, np.ndarray]] = []
        self.embedded: set[str] = set()

    def add(self, results: list[WorkResult]) -> None:
        images = [r.image for r in results if r.image is not None]
        self.store.put_images(images)
        self.store.put_sources(r.source for r in results)
        known_bad = self.store.image_errors(r.source.sha256 for r in results if r.cached)
        for r in results:
            self._count(r, known_bad.get(r.source.sha256 or ""))
            if r.embed_input is not None and r.source.sha256 not in self.embedded:
                self.embedded.add(r.source.sha256)
                self.pending.append((r.source.sha256, r.embed_input))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def _count(self, r: WorkResult, known_error: tuple[str, str] | None) -> None:
        failure = r.source if r.source.error_kind else r.image
        if r.cached:
            self.report.cache_hits += 1
            if known_error:
                self.report.record_failure(r.source.uri, *known_error)
        elif failure is not None and failure.error_kind:
            self.report.record_failure(r.source.uri, failure.error_kind, failure.error or "")
        else:
            self.report.computed += 1

    def flush(self) -> None:
        if not self.pending or self.embedder is None:
            return
        shas = [sha for sha, _ in self.pending]
        vectors = self.embedder.embed_arrays(np.stack([a for _, a in self.pending]))
        self.store.put_embeddings(self.embedder.model_id, shas, vectors)
        self.report.embedded += len(shas)
        self.pending.clear()
