"""What both reports read: the audit's per-file table, aligned embeddings, and thumbnails.

``--dir`` runs the folder pipeline (features into the store, then the audit); ``--project``
reads the project frame and joins it with the features the import stored. Either way the
result is one table in the audit's shape, so the reports never care where images live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from analysis.audit import AuditOptions, AuditResult, audit
from analysis.report.html import thumbnail_data_uri
from winnow.config import Settings
from winnow.errors import ImageError
from winnow.features.walk import Layout
from winnow.imageio import ImageReader, decode_image
from winnow.models import make_embedder
from winnow.models.embedder import Embedder
from winnow.progress import ProgressFactory, no_progress
from winnow.store import FeatureStore

NOT_MEASURED = "not_in_feature_store"


@dataclass
class ReportInputs:
    result: AuditResult  # files: one row per image (uri, sha256, label, split, metadata ...)
    vectors: np.ndarray | None  # (N, D) aligned with result.files; zero rows where unreadable
    embedder: Embedder | None
    read: Callable[[str], bytes]  # uri -> bytes
    source: str  # what the report is about, for its title
    # labels are sets (a choice="multiple" project); None: judge by the labels (folders)
    multi_label: bool | None = None
    # a project's reviewer verdicts on its label-issue queues, from its syncs (check name ->
    # analysis.label_issue_review.ReviewCheck); empty for a folder
    label_reviews: dict = field(default_factory=dict)


def folder_inputs(
    folder: Path,
    settings: Settings,
    *,
    layout: Layout = "auto",
    progress: ProgressFactory = no_progress,
) -> ReportInputs:
    """Features and audit for a local folder (cache hits for content already in the store)."""
    from sync.audit.folder import audit_folder

    embedder = make_embedder(settings.embedding) if settings.features.embed else None
    _, _, result = audit_folder(
        folder, settings, layout=layout, embedder=embedder, progress=progress
    )
    vectors = aligned_vectors(settings, embedder, result.files)
    return ReportInputs(
        result,
        vectors,
        embedder,
        lambda uri: Path(uri).read_bytes(),
        f"folder {folder.resolve().name}",
    )


def project_inputs(settings: Settings, project_id: int) -> ReportInputs:
    """The project's tasks joined with the stored features, audited like a folder. Whether
    labels are sets comes from the project's labeling config."""
    from sync.project_frame import labels_are_sets, project_frame
    from sync.review.decisions import review_checks
    from sync.review.state import SyncState, state_path

    frame = project_frame(settings, project_id)
    multi_label = labels_are_sets(settings, project_id)
    with FeatureStore(settings.store_path) as store:
        images = store.images_frame()
    table = project_table(frame, images)
    embedder = make_embedder(settings.embedding) if settings.features.embed else None
    vectors = aligned_vectors(settings, embedder, table)
    reader = ImageReader(settings.io, settings.label_studio, settings.s3)
    options = AuditOptions(label_set_separator="+") if multi_label else None
    with SyncState(state_path(settings.data_dir)) as state:
        reviews = review_checks(state.label_reviews(project_id))
    return ReportInputs(
        audit(table, embeddings=vectors, options=options),
        vectors,
        embedder,
        reader.read,
        f"Label Studio project {project_id}",
        multi_label,
        reviews,
    )


def project_table(frame: pd.DataFrame, images: pd.DataFrame) -> pd.DataFrame:
    """Project frame (one row per task) -> the audit's per-file table. Multi-label tasks get
    their labels joined with "+"; tasks whose content the store has not measured are marked
    unreadable with kind ``not_in_feature_store``."""
    labels = frame["labels"].map(lambda ls: "+".join(sorted(ls)) if len(ls) else None)
    table = pd.DataFrame(
        {
            "uri": frame["image"],
            "sha256": frame["sha256"],
            "label": labels,
            "split": frame["split"],
            "task_id": frame["task_id"],
        }
    )
    table = table.merge(images, on="sha256", how="left")
    missing = table["computed_at"].isna()
    table.loc[missing, "error_kind"] = NOT_MEASURED
    table.loc[missing, "error"] = "no stored features; import with --embed or run the sync"
    return table


def aligned_vectors(
    settings: Settings, embedder: Embedder | None, files: pd.DataFrame
) -> np.ndarray | None:
    """Stored embeddings ``(N, D)`` in the order of ``files``; None when there are none."""
    if embedder is None:
        return None
    ok = files["error_kind"].isna().to_numpy()
    wanted = list(dict.fromkeys(files["sha256"][ok]))
    with FeatureStore(settings.store_path) as store:
        shas, vectors = store.embeddings(embedder.model_id, wanted)
    if not shas:
        return None
    row = dict(zip(shas, vectors, strict=True))
    out = np.zeros((len(files), vectors.shape[1]), dtype=np.float32)
    for i, sha in enumerate(files["sha256"]):
        if ok[i] and sha in row:
            out[i] = row[sha]
    return out


def load_images(
    read: Callable[[str], bytes],
    uris: Iterable[tuple[int, str]],
    settings: Settings,
    *,
    min_side: int | None = 128,
) -> dict[int, Image.Image]:
    """Decode ``(row, uri)`` pairs; an image that cannot be read is left out (the page shows
    a gap, and the audit already lists it)."""
    out = {}
    for row, uri in uris:
        try:
            decoded = decode_image(
                read(uri), uri, max_pixels=settings.io.max_pixels, min_side=min_side
            )
        except (ImageError, OSError):
            continue
        out[row] = decoded.image
    return out


def thumbnails(images: dict[int, Image.Image]) -> dict[int, str]:
    return {row: thumbnail_data_uri(image) for row, image in images.items()}
