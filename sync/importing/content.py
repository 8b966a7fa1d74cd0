"""Which new candidates hold usable, new content: features are computed for each (so later
jobs are cache hits), unreadable or non-image content is skipped with the pipeline's reason,
and content already in the project, or earlier in this batch, is a duplicate."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path

from sync.importing.provenance import LABEL_CONFLICT, Candidate, Skip
from winnow.config import Settings
from winnow.features.extract import extract_features
from winnow.features.walk import SourceItem
from winnow.models.embedder import Embedder
from winnow.progress import Advance
from winnow.store import FeatureStore


def check_content(
    fresh: list[Candidate],
    *,
    settings: Settings,
    embedder: Embedder | None = None,
    progress: AbstractContextManager[Advance] | None = None,
    trusted_roots: Sequence[Path] = (),
) -> tuple[list[Candidate], list[Skip]]:
    """Candidates with their sha256 set, and skips for those that cannot be used.

    ``trusted_roots``: the folders of the local files the import chose itself (the folder the
    operator named, the download folder); other local paths pass only ``io.local_roots``."""
    if not fresh:
        return [], []
    items = [SourceItem(c.read_uri, "|".join(c.labels) or None, c.split) for c in fresh]
    with FeatureStore(settings.store_path) as store:
        if progress is None:
            extract_features(
                items,
                settings=settings,
                store=store,
                embedder=embedder,
                trusted_roots=trusted_roots,
            )
        else:
            with progress as advance:
                extract_features(
                    items,
                    settings=settings,
                    store=store,
                    embedder=embedder,
                    progress=advance,
                    trusted_roots=trusted_roots,
                )
        records = store.sources_by_uri(item.uri for item in items)
        errors = store.image_errors({r.sha256 for r in records.values() if r.sha256})
    usable: list[Candidate] = []
    skipped: list[Skip] = []
    for c in fresh:
        rec = records.get(c.read_uri)
        if rec is None or rec.sha256 is None:
            kind, reason = (rec.error_kind, rec.error) if rec else ("internal_error", "no record")
            skipped.append(
                Skip(c.source, kind or "fetch_failed", reason or "", None, c.labels, c.provenance)
            )
        elif rec.sha256 in errors:
            kind, reason = errors[rec.sha256]
            skipped.append(Skip(c.source, kind, reason, rec.sha256, c.labels, c.provenance))
        else:
            usable.append(replace(c, sha256=rec.sha256))
    return usable, skipped


def drop_duplicates(
    candidates: list[Candidate], known: dict[str, int]
) -> tuple[list[Candidate], list[Skip]]:
    """First of each content wins; content the project holds (``known``: sha -> task id)
    is skipped too."""
    kept: dict[str, Candidate] = {}
    skipped: list[Skip] = []
    for c in candidates:
        sha = c.sha256 or ""
        if sha in known:
            detail = f"same content as task {known[sha]}"
        elif sha in kept:
            detail = f"same content as {kept[sha].source}"
        else:
            kept[sha] = c
            continue
        skipped.append(Skip(c.source, "duplicate", detail, sha, c.labels, c.provenance))
    return list(kept.values()), skipped


def label_conflicts(kept: list[Candidate], skipped: list[Skip]) -> dict[str, list[str]]:
    """sha256 -> flags for kept images whose skipped duplicates carried other labels."""
    labels = {c.sha256: set(c.labels) for c in kept}
    out: dict[str, list[str]] = {}
    for skip in skipped:
        other = set(skip.labels)  # a duplicate without labels conflicts with nothing
        kept_labels = labels.get(skip.sha256)
        if (
            skip.reason == "duplicate"
            and other
            and kept_labels is not None
            and other != kept_labels
        ):
            out[skip.sha256 or ""] = [LABEL_CONFLICT]
    return out
