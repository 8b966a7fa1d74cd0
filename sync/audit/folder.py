"""Audit a local folder without any server: features, every check, files on disk."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.audit import ISSUE_TYPES, AuditOptions, AuditResult, audit
from analysis.duplicates_verify import VerifyOptions
from sync.audit.pixels import SourcePixels, flush_measures
from winnow.config import Settings
from winnow.features.extract import ExtractionReport
from winnow.features.folder import compute_folder
from winnow.features.walk import Layout, ScanResult
from winnow.models import make_embedder
from winnow.models.embedder import Embedder
from winnow.progress import ProgressFactory, no_progress
from winnow.store import FeatureStore


def audit_folder(
    folder: Path,
    settings: Settings,
    *,
    layout: Layout = "auto",
    options: AuditOptions | None = None,
    embed: bool = True,
    embedder: Embedder | None = None,
    progress: ProgressFactory = no_progress,
) -> tuple[ScanResult, ExtractionReport, AuditResult]:
    """Fill the feature store for ``folder`` (cache hits for known content), then audit it.
    Pass ``embedder`` to reuse a loaded model."""
    options = options or audit_options(settings, roots=(folder,))
    if embedder is None and embed and settings.features.embed:
        embedder = make_embedder(settings.embedding, lazy=True)
    scan, report = compute_folder(
        folder, settings, layout=layout, embedder=embedder, embed=embed, progress=progress
    )
    uris = [item.uri for item in scan.items]
    with FeatureStore(settings.store_path) as store:
        sources = store.sources_frame().set_index("uri").loc[uris].reset_index()
        images = store.images_frame()
        table = sources.merge(images, on="sha256", how="left", suffixes=("", "_content"))
        table["error_kind"] = table["error_kind"].fillna(table["error_kind_content"])
        table["error"] = table["error"].fillna(table["error_content"])
        vectors = aligned_embeddings(store, embedder.model_id, table) if embedder else None
    result = audit(table, embeddings=vectors, options=options)
    flush_measures(options)
    return scan, report, result


def audit_options(
    settings: Settings, checks: frozenset[str] | None = None, *, roots: Sequence[Path] = ()
) -> AuditOptions:
    """The audit's options from the settings' ``audit`` section (one place for both jobs).
    ``roots``: folders the operator named, whose files the duplicate check may read again."""
    a = settings.audit
    pixels = SourcePixels(settings, size=a.duplicate_working_size, trusted_roots=roots)
    threads = os.cpu_count() or 1  # the keeper's signals and the geometric checks alike
    return AuditOptions(
        checks=checks or frozenset(ISSUE_TYPES),
        label_issue_precision=a.label_issue_precision,
        label_estimate_seeds=a.label_estimate_seeds,
        label_issue_probe=a.label_issue_probe,
        pixels=pixels if a.duplicate_verify else None,
        resolution=pixels.resolution,
        resolution_workers=threads,
        match_cache=pixels,
        verify=VerifyOptions(
            candidate_cosine=a.duplicate_candidate_cosine,
            min_inliers=a.duplicate_min_inliers,
            min_ratio=a.duplicate_min_inlier_ratio,
            workers=threads,
        ),
    )


def aligned_embeddings(
    store: FeatureStore, model_id: str, table: pd.DataFrame
) -> np.ndarray | None:
    ok = table["error_kind"].isna()
    shas, vectors = store.embeddings(model_id, list(dict.fromkeys(table["sha256"][ok])))
    if not len(shas):
        return None
    row = {sha: i for i, sha in enumerate(shas)}
    out = np.zeros((len(table), vectors.shape[1]), dtype=np.float32)
    for i, (sha, good) in enumerate(zip(table["sha256"], ok, strict=True)):
        if good:
            out[i] = vectors[row[sha]]
    return out


def write_outputs(result: AuditResult, out: Path) -> dict[str, Path]:
    """``issues.csv`` (one row per finding), ``images.parquet`` (one row per file) and, when
    label issues were estimated, ``label_queues.json`` (their estimated precision and recall)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"issues": out / "issues.csv", "images": out / "images.parquet"}
    if result.label_estimate is not None:
        paths["label_queues"] = out / "label_queues.json"
        paths["label_queues"].write_text(json.dumps(result.label_estimate.as_dict(), indent=2))
    result.issues.to_csv(paths["issues"], index=False)
    files = result.files.drop(columns=[c for c in result.files if c.endswith("_content")])
    files.to_parquet(paths["images"], index=False)
    return paths
