"""Index a project (or a folder) in the vector index: embeddings from the store, then a sync.

Embeddings come from the feature store; an image without one for the current model is read
(Label Studio URLs with the API key, local paths directly) and embedded once, so a re-run is
a lookup. The index is then brought in line with the frame by ``sync_points``.
``index_new_version`` does that in a new Qdrant Edge version, published only when complete,
so a running API keeps answering from the previous one until then.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.config import Settings
from winnow.features.extract import ExtractionReport, extract_features
from winnow.features.walk import SourceItem
from winnow.index import SyncReport, VectorIndex, build_index, sync_points
from winnow.models.embedder import Embedder
from winnow.progress import Advance, ProgressFactory, no_progress
from winnow.store import FeatureStore


@dataclass
class IndexRun:
    """One `winnow index` run: the sync counts, the embedding work, and the index size."""

    sync: SyncReport
    extraction: ExtractionReport | None
    model_id: str
    total_points: int
    seconds: float


def read_uri(image: str, ls_url: str) -> str:
    """Label Studio's relative ``/data/...`` URLs made absolute; other addresses as they are."""
    return f"{ls_url.rstrip('/')}{image}" if image.startswith("/data/") else image


def frame_vectors(
    frame: pd.DataFrame,
    *,
    settings: Settings,
    store: FeatureStore,
    embedder: Embedder,
    progress: Advance | None = None,
    trusted_roots: Sequence[Path] = (),
) -> tuple[pd.DataFrame, dict[str, np.ndarray], ExtractionReport | None]:
    """``(frame with sha256 filled where it was read now, sha256 -> vector, extraction)``.

    ``trusted_roots``: folders the operator named (``--dir``); task paths get only
    ``io.local_roots``."""
    frame = frame.copy()
    known = dict(zip(*store.embeddings(embedder.model_id, _shas(frame)), strict=True))
    lacking = frame["image"].notna() & ~frame["sha256"].isin(list(known))
    uris = {
        i: read_uri(str(frame.at[i, "image"]), settings.label_studio.url)
        for i in frame.index[lacking]
    }
    report = None
    if progress:  # rows already embedded or without an image count as done
        progress(len(frame) - len(set(uris.values())))
    if uris:
        items = [SourceItem(uri) for uri in dict.fromkeys(uris.values())]
        report = extract_features(
            items,
            settings=settings,
            store=store,
            embedder=embedder,
            progress=progress,
            trusted_roots=trusted_roots,
        )
        records = store.sources_by_uri(uris.values())
        for i, uri in uris.items():
            if records.get(uri) is not None and records[uri].sha256:
                frame.at[i, "sha256"] = records[uri].sha256
        known.update(zip(*store.embeddings(embedder.model_id, _shas(frame)), strict=True))
    return frame, known, report


def _shas(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["sha256"].dropna()))


def index_frame(
    frame: pd.DataFrame,
    *,
    settings: Settings,
    index: VectorIndex,
    embedder: Embedder,
    project: int | None = None,
    bars: ProgressFactory = no_progress,
    trusted_roots: Sequence[Path] = (),
) -> IndexRun:
    """Embed what is missing and sync ``frame`` into ``index`` (scoped to ``project``).

    ``bars(description, total)`` opens a progress bar per phase (the CLI passes rich's);
    ``trusted_roots`` as in :func:`frame_vectors`."""
    started = time.perf_counter()
    with FeatureStore(settings.store_path) as store, bars("embeddings", len(frame)) as advance:
        frame, vectors, report = frame_vectors(
            frame,
            settings=settings,
            store=store,
            embedder=embedder,
            progress=advance,
            trusted_roots=trusted_roots,
        )
    ready = set(frame["sha256"].dropna()) & set(vectors)
    with bars("index", len(ready)) as advance:
        result = sync_points(
            index, frame, vectors, project=project, embedding=embedder.model_id, progress=advance
        )
    return IndexRun(result, report, embedder.model_id, index.count(), time.perf_counter() - started)


def index_new_version(
    frame: pd.DataFrame,
    *,
    settings: Settings,
    embedder: Embedder,
    project: int | None = None,
    bars: ProgressFactory = no_progress,
    trusted_roots: Sequence[Path] = (),
) -> IndexRun:
    """:func:`index_frame` into the configured index, all or nothing: on Edge into a copy of
    the current version that is published when the sync completes (an error leaves the
    served version as it was); on a Qdrant server into the collection itself."""
    with build_index(settings) as index:
        return index_frame(
            frame,
            settings=settings,
            index=index,
            embedder=embedder,
            project=project,
            bars=bars,
            trusted_roots=trusted_roots,
        )


def folder_frame(
    settings: Settings, folder: Path, *, findings: Path | None = None, layout: str = "auto"
) -> pd.DataFrame:
    """A project-shaped frame for a local folder: labels and splits from its layout, flags
    from an audit's ``issues.csv`` if given. No tasks, so ``task_id`` is empty."""
    from winnow.features.walk import scan_folder

    scan = scan_folder(folder, layout=layout)  # type: ignore[arg-type]
    uris = [item.uri for item in scan.items]
    with FeatureStore(settings.store_path) as store:
        records = store.sources_by_uri(uris)
    flags: dict[str, list[str]] = {}
    if findings is not None:
        issues = pd.read_csv(findings)
        for path, group in issues.groupby("path"):
            flags[str(path)] = sorted(set(group["issue_type"]))
    rows = [
        {
            "task_id": None,
            "image": item.uri,
            "sha256": records[item.uri].sha256 if item.uri in records else None,
            "labels": [item.label] if item.label else [],
            "split": item.split,
            "flags": flags.get(item.uri, []),
        }
        for item in scan.items
    ]
    return pd.DataFrame(rows, columns=["task_id", "image", "sha256", "labels", "split", "flags"])
