"""The stock inputs of an export: the records frame of a Label Studio project (the sync
helper's ``project_frame``) or of a class-folder layout (scan + feature store + audit
findings), near-duplicate groups and quality measurements from the store, and images read
through ``ImageReader``. ``export_project`` is `winnow export --project` as one call."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.duplicates import hash_neighbors, near_duplicate_groups
from winnow.config import Settings
from winnow.progress import ProgressFactory, no_progress
from winnow.store import FeatureStore

PHASH_RADIUS = 4  # the audit's default (analysis.audit.AuditOptions.phash_radius)
MEASURES = ["sha256", "blur", "brightness", "entropy"]


def project_records(settings: Settings, project_id: int) -> pd.DataFrame:
    """The project's tasks (pulled from Label Studio) with duplicate groups from the store."""
    from sync.project_frame import project_frame  # lazy: written alongside this module

    frame = project_frame(settings, project_id, pull=True)
    return with_duplicate_groups(frame, settings)


def folder_records(
    folder: Path, settings: Settings, *, embed: bool = True, progress: ProgressFactory = no_progress
) -> pd.DataFrame:
    """A class-folder data set as records: labels from folders, flags from the audit."""
    from sync.audit.folder import audit_folder

    _, _, result = audit_folder(folder, settings, embed=embed, progress=progress)
    files = result.files
    flags = result.issues.groupby("path")["issue_type"].agg(list)
    now = dt.datetime.now(dt.UTC).isoformat()
    mtimes = [_mtime(uri) for uri in files["uri"]]
    return pd.DataFrame(
        {
            "task_id": np.arange(1, len(files) + 1),
            "image": files["uri"],
            "sha256": files["sha256"].where(files["error_kind"].isna(), None),
            "labels": [[v] if isinstance(v, str) else [] for v in files["label"]],
            "split": files["split"].where(files["split"].notna(), None),
            "flags": [flags.get(uri, []) for uri in files["uri"]],
            "width": files["width"],
            "height": files["height"],
            "source": files["uri"],
            "licence": None,
            "collected_at": mtimes,
            "updated_at": now,
            "group": files.get("dup_group"),
        }
    )


def _mtime(uri: str) -> str | None:
    try:
        stamp = Path(uri).stat().st_mtime
    except OSError:
        return None
    return dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat()


def with_duplicate_groups(frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Add ``group``: near-duplicate clusters by pHash over the stored hashes (contents the
    store does not know stay in groups of their own)."""
    out = frame.copy()
    out["group"] = None
    if not settings.store_path.exists():
        return out
    shas = [s for s in dict.fromkeys(out["sha256"]) if isinstance(s, str)]
    with FeatureStore(settings.store_path, readonly=True) as store:
        images = store.images_frame()
    known = images[images["sha256"].isin(shas) & images["phash"].notna()]
    if known.empty:
        return out
    pairs = hash_neighbors(known["phash"].to_numpy(np.int64), radius=PHASH_RADIUS, links="star")
    groups = near_duplicate_groups(len(known), [pairs])
    cluster = dict(zip(known["sha256"], (f"dup-{c}" for c in groups.cluster), strict=True))
    out["group"] = out["sha256"].map(cluster)
    return out


def measurements(settings: Settings) -> pd.DataFrame:
    """Stored quality measurements per content, for the card's per-split statistics."""
    if not settings.store_path.exists():
        return pd.DataFrame(columns=MEASURES)
    with FeatureStore(settings.store_path, readonly=True) as store:
        images = store.images_frame()
    return images[[c for c in MEASURES if c in images.columns]]


def export_records(
    frame: pd.DataFrame,
    dest: str,
    settings: Settings,
    *,
    trusted_roots: tuple[Path, ...] = (),
    **kwargs: Any,
) -> Any:
    """``export_dataset`` with the stock parts: images read through ``ImageReader`` (local,
    Label Studio, HTTP, S3 under the I/O policy) and the stored quality measurements.

    ``trusted_roots``: the folders of a folder the operator named (:func:`image_folders`);
    a project's task images get ``io.local_roots`` only."""
    from sync.export.job import export_dataset
    from winnow.imageio import ImageReader

    with ImageReader(
        settings.io, settings.label_studio, settings.s3, trusted_roots=trusted_roots
    ) as reader:
        return export_dataset(
            frame,
            dest,
            settings=settings,
            resolve=lambda row: reader.read(str(row["image"])),
            measurements=measurements(settings),
            **kwargs,
        )


def image_folders(frame: pd.DataFrame) -> tuple[Path, ...]:
    """The folders holding a folder data set's images (its ``image`` paths)."""
    from winnow.features.walk import folders_of

    return folders_of(str(uri) for uri in frame["image"])


def export_project(settings: Settings, project_id: int, dest: str, **kwargs: Any) -> Any:
    """Pull a Label Studio project and export it: what `winnow export --project` does (and
    what a demo calls in one line). Returns the ``ExportResult``."""
    kwargs.setdefault("source", ["--project", str(project_id)])
    kwargs.setdefault("title", f"Label Studio project {project_id}")
    from sync.export.plan import ExportOptions

    options = kwargs.get("options") or ExportOptions()
    if options.kind in (None, "auto"):
        kwargs["options"] = dataclasses.replace(options, kind=project_kind(settings, project_id))
    return export_records(project_records(settings, project_id), dest, settings, **kwargs)


def project_kind(settings: Settings, project_id: int) -> str | None:
    """A project whose labeling config is ``choice="multiple"`` exports multi-label even when
    every task carries one label; otherwise None, and the records decide."""
    from sync.project_frame import labels_are_sets

    return "multi_label" if labels_are_sets(settings, project_id) else None
