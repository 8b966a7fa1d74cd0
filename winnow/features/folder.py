"""A folder's features: scan it, then extract what the store lacks (local workers or Ray)."""

from __future__ import annotations

from pathlib import Path

from winnow.config import Settings
from winnow.features.extract import ExtractionReport, extract_features
from winnow.features.ray_engine import RayOptions, extract_features_ray
from winnow.features.walk import Layout, ScanResult, scan_folder
from winnow.models import Embedder, make_embedder
from winnow.progress import ProgressFactory, no_progress
from winnow.store import FeatureStore


def compute_folder(
    folder: Path,
    settings: Settings,
    *,
    layout: Layout = "auto",
    embed: bool = True,
    embedder: Embedder | None = None,
    ray: RayOptions | None = None,
    progress: ProgressFactory = no_progress,
) -> tuple[ScanResult, ExtractionReport]:
    """Scan ``folder`` and fill the feature store; what every folder command starts with.

    Pass ``embedder`` to reuse a loaded model; otherwise one is built when ``embed``.
    With ``ray`` the work runs on a Ray cluster instead of local worker processes."""
    scan = scan_folder(folder, layout=layout)
    if embedder is None and embed and settings.features.embed:
        embedder = make_embedder(settings.embedding, lazy=True)
    with (
        FeatureStore(settings.store_path) as store,
        progress("features", len(scan.items)) as advance,
    ):
        common = {
            "settings": settings,
            "store": store,
            "embedder": embedder,
            "progress": advance,
            "trusted_roots": scan.folders,  # the operator named the folder: read its files
        }
        if ray is not None:
            report = extract_features_ray(scan.items, options=ray, **common)
        else:
            report = extract_features(scan.items, **common)
    return scan, report
