"""Feature extraction on Ray Data, for image sets that outgrow one machine.

The work per image is exactly the single-machine path's (``worker.ItemProcessor``: read,
sha256, decode, hash, measure, prepare the network input); only the scheduling changes:
- read + decode + hash run as stateless Ray *tasks*, spread over every CPU of the cluster;
- embedding runs in an *actor pool*, one model per actor, on batches; each actor takes a GPU
  when the cluster has them, or a fraction of a CPU on small machines (on 2 cores a whole
  CPU per actor starves the decode tasks and the job stalls);
- the driver writes results into the same SQLite feature store as it streams them back,
  so the store is identical to a local run and a stopped run resumes where it was.
Sources may be local paths (on a shared filesystem) or ``s3://`` keys that every node reads
itself. ``ray`` is an optional extra (``pip install winnow[ray]``) imported only here.
"""

from __future__ import annotations

import dataclasses
import logging
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from winnow.config import EmbeddingSettings, Settings
from winnow.errors import ConfigError
from winnow.features.extract import ExtractionReport, Sink, prepare_run
from winnow.features.walk import SourceItem
from winnow.features.worker import ItemProcessor, WorkerConfig, WorkResult
from winnow.models.embedder import Embedder
from winnow.progress import Advance
from winnow.store.feature_store import FeatureStore

# Rows per store transaction: one commit per 16 images wrote ~1,000 img/s, per 256 ~4,000.
WRITE_BATCH = 256


@dataclass(frozen=True)
class RayOptions:
    """How to use the cluster. None means: decided from the cluster's resources."""

    address: str | None = None  # None: join RAY_ADDRESS or the running one, else start local
    actors: int | None = None  # embedding actors; default one per GPU, else one
    actor_cpus: float | None = None  # CPUs per actor; default 0.5 below 4 CPUs, else 1
    decode_batch: int = 16  # images per decode task
    embed_batch: int | None = None  # images per model call; default settings.embedding


def extract_features_ray(
    items: Sequence[SourceItem],
    *,
    settings: Settings,
    store: FeatureStore,
    embedder: Embedder | None = None,
    options: RayOptions = RayOptions(),
    progress: Advance | None = None,
    trusted_roots: Sequence[Path] = (),
) -> ExtractionReport:
    """Same contract as :func:`winnow.features.extract.extract_features`, run on Ray.

    ``embedder`` is used for its model id and input spec only; actors load their own copy
    from ``settings.embedding``, which must describe the same model.
    """
    ray = _ray(options.address)
    started = time.perf_counter()
    report, todo, config = prepare_run(
        items,
        settings=settings,
        store=store,
        embedder=embedder,
        progress=progress,
        trusted_roots=trusted_roots,
    )
    sink = Sink(store, None, report, batch_size=settings.embedding.batch_size)
    if todo:
        dataset = _pipeline(ray, todo, config, settings.embedding, options)
        for batch in dataset.iter_batches(batch_size=WRITE_BATCH, batch_format="numpy"):
            _write(batch, sink, store, report, config.model_id)
            if progress:
                progress(len(batch["result"]))
    report.seconds = time.perf_counter() - started
    return report


def _ray(address: str | None) -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("--engine ray needs Ray: pip install 'winnow[ray]'") from exc
    if not ray.is_initialized():
        ray.init(
            address=address, include_dashboard=False, log_to_driver=False, configure_logging=False
        )
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the CLI draws its own
    for name in ("ray", "ray.data"):  # per-dataset INFO plans and stats
        logging.getLogger(name).setLevel(logging.WARNING)
    return ray


def _pipeline(
    ray: Any,
    todo: list[SourceItem],
    config: WorkerConfig,
    embedding: EmbeddingSettings,
    options: RayOptions,
) -> Any:
    rows = [dataclasses.asdict(item) for item in todo]
    blocks = max(1, min(len(rows) // options.decode_batch, 1000))
    dataset = ray.data.from_items(rows, override_num_blocks=blocks)
    dataset = dataset.map_batches(
        _decode_batch,
        fn_kwargs={"config": config},
        batch_size=options.decode_batch,
        batch_format="pandas",
    )
    if config.model_id is None:
        return dataset
    cpus, gpus, actors = _actor_resources(ray, options)
    return dataset.map_batches(
        _EmbedActor,
        fn_constructor_kwargs={
            "embedding": embedding,
            "model_id": config.model_id,
            "threads": max(1, int(cpus)),
        },
        batch_size=options.embed_batch or embedding.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=cpus,
        num_gpus=gpus,
    )


def _actor_resources(ray: Any, options: RayOptions) -> tuple[float, float, int]:
    """(CPUs, GPUs, count) for the embedding actors, from the cluster when not given."""
    resources = ray.cluster_resources()
    total_cpus, total_gpus = resources.get("CPU", 1.0), int(resources.get("GPU", 0))
    cpus = options.actor_cpus or (0.5 if total_cpus < 4 else 1.0)
    gpus = 1.0 if total_gpus else 0.0
    actors = options.actors or max(1, total_gpus)
    return cpus, gpus, actors


def _decode_batch(rows: Any, config: WorkerConfig) -> dict[str, list[bytes]]:
    """A Ray task: the local path's per-image work on a batch of sources (a pandas frame)."""
    processor = ItemProcessor(config)
    try:
        results = [processor(SourceItem(**row)) for row in rows.to_dict("records")]
    finally:
        if processor.store is not None:
            processor.store.close()
    return {"result": [pickle.dumps(r) for r in results]}


class _EmbedActor:
    """One model per actor; embeds the batch's prepared arrays, passes everything on."""

    def __init__(self, embedding: EmbeddingSettings, model_id: str, threads: int) -> None:
        import torch

        from winnow.models import make_embedder

        torch.set_num_threads(threads)
        # OpenVINO takes its thread count from the settings, not from torch
        self.embedder = make_embedder(embedding.model_copy(update={"threads": threads}))
        if torch.cuda.is_available():  # Ray set CUDA_VISIBLE_DEVICES to this actor's GPU
            self.embedder.to("cuda")
        if self.embedder.model_id != model_id:
            raise ConfigError(f"actor model {self.embedder.model_id} is not {model_id}")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[bytes]]:
        results: list[WorkResult] = [pickle.loads(b) for b in batch["result"]]
        wanted = [i for i, r in enumerate(results) if r.embed_input is not None]
        vectors = [b""] * len(results)
        if wanted:
            stacked = np.stack([results[i].embed_input for i in wanted])
            for i, vector in zip(wanted, self.embedder.embed_arrays(stacked), strict=True):
                vectors[i] = np.asarray(vector, dtype=np.float32).tobytes()
        stripped = [dataclasses.replace(r, embed_input=None) for r in results]
        return {"result": [pickle.dumps(r) for r in stripped], "vector": vectors}


def _write(
    batch: dict[str, np.ndarray],
    sink: Sink,
    store: FeatureStore,
    report: ExtractionReport,
    model_id: str | None,
) -> None:
    """Store one batch the way the local path does; vectors arrive already computed."""
    results: list[WorkResult] = [pickle.loads(b) for b in batch["result"]]
    sink.add(results)
    if model_id is None:
        return
    pairs = {
        r.source.sha256: v
        for r, v in zip(results, batch["vector"], strict=True)
        if v and r.source.sha256 not in sink.embedded
    }
    sink.embedded.update(pairs)  # a copy met later in the run is not stored twice
    if pairs:
        vectors = np.stack([np.frombuffer(v, dtype=np.float32) for v in pairs.values()])
        store.put_embeddings(model_id, list(pairs), vectors)
        report.embedded += len(pairs)
