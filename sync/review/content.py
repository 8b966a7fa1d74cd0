"""Content hashes and features for pulled tasks, through the feature store.

A task imported by Winnow carries ``winnow_sha256``; when the store already holds that
content's features (and embedding), nothing is read. Any other task's image is read through
Label Studio (its ``/data/...`` URL, with the API key) by the feature pipeline, which records
the URL so the next sync is a lookup: content at a Label Studio URL is taken as immutable.
"""

from __future__ import annotations

from collections.abc import Callable

from sync.review.state import TaskRow
from winnow.config import Settings
from winnow.features.extract import ExtractionReport, extract_features
from winnow.features.walk import SourceItem
from winnow.models.embedder import Embedder
from winnow.store import FeatureStore


def read_uri(image: str, ls_url: str) -> str:
    """The address the feature pipeline reads: Label Studio's relative URLs made absolute."""
    return f"{ls_url.rstrip('/')}{image}" if image.startswith("/") else image


def resolve_content(
    tasks: list[TaskRow],
    *,
    settings: Settings,
    store: FeatureStore,
    embedder: Embedder | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[int, str | None], ExtractionReport]:
    """``task_id -> sha256`` (None when the image could not be read) for ``tasks``."""
    model_id = embedder.model_id if embedder else None
    claimed = {t.sha256 for t in tasks if t.sha256}
    ready = store.complete(claimed, model_id)
    shas: dict[int, str | None] = {}
    todo: dict[int, str] = {}
    for task in tasks:
        if task.sha256 in ready:
            shas[task.task_id] = task.sha256
        elif task.image:
            todo[task.task_id] = read_uri(task.image, settings.label_studio.url)
        else:
            shas[task.task_id] = None
    if progress and shas:
        progress(len(shas))
    items = [SourceItem(uri) for uri in dict.fromkeys(todo.values())]
    report = extract_features(
        items, settings=settings, store=store, embedder=embedder, progress=progress
    )
    records = store.sources_by_uri(todo.values())
    for task_id, uri in todo.items():
        rec = records.get(uri)
        shas[task_id] = rec.sha256 if rec else None
    return shas, report


def read_errors(
    tasks: list[TaskRow], store: FeatureStore, ls_url: str
) -> dict[int, tuple[str, str]]:
    """``task_id -> (error_kind, reason)`` for tasks whose image could not be read at all."""
    uris = {t.task_id: read_uri(t.image, ls_url) for t in tasks if t.image and not t.sha256}
    records = store.sources_by_uri(uris.values())
    out = {}
    for task_id, uri in uris.items():
        rec = records.get(uri)
        if rec is not None and rec.sha256 is None:
            out[task_id] = (rec.error_kind or "fetch_failed", rec.error or "")
    for t in tasks:
        if not t.image and t.task_id not in out:
            out[t.task_id] = ("no_image", "the task has no image URL")
    return out
