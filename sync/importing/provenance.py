"""What an import knows about each image before it reaches Label Studio, and how that
becomes task data, flags and import-log rows: the audit trail of where an image came from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from winnow.store.import_log import ImportEntry

SourceKind = Literal["folder", "url_list", "s3"]
NO_LICENCE = "no_licence"
LABEL_CONFLICT = "duplicate_label_conflict"


@dataclass(frozen=True)
class Provenance:
    """Where one image came from. ``source`` is its identity within the import."""

    kind: SourceKind
    source: str  # local path, URL, or s3://bucket/key
    url: str | None = None
    source_page: str | None = None
    licence: str | None = None
    author: str | None = None
    date: str | None = None
    retrieved_at: float | None = None  # Unix time, for downloads

    @property
    def flags(self) -> list[str]:
        """Flags the dataset card needs: an image without a licence cannot be published."""
        return [] if self.licence else [NO_LICENCE]

    def task_fields(self) -> dict[str, Any]:
        """Flat ``winnow_*`` task data fields (flat, so the Data Manager can filter on them)."""
        fields: dict[str, Any] = {
            "winnow_source": self.source,
            "winnow_source_kind": self.kind,
            "winnow_url": self.url,
            "winnow_source_page": self.source_page,
            "winnow_licence": self.licence,
            "winnow_author": self.author,
            "winnow_date": self.date,
            "winnow_retrieved_at": iso_time(self.retrieved_at) if self.retrieved_at else None,
        }
        return {key: value for key, value in fields.items() if value is not None}


@dataclass(frozen=True)
class Candidate:
    """An image an import may turn into a task.

    ``read_uri`` is what the feature pipeline reads (a local path, also for downloaded
    copies, or an s3:// URL); ``image_ref`` is the task's image value when the source fixes
    it (a URL, an s3:// key), or None for local files served by a local storage.
    """

    provenance: Provenance
    read_uri: str
    labels: tuple[str, ...] = ()
    split: str | None = None
    image_ref: str | None = None
    sha256: str | None = None

    @property
    def source(self) -> str:
        return self.provenance.source


@dataclass(frozen=True)
class Skip:
    """A source that did not become a task, and why (``reason`` is a short kind)."""

    source: str
    reason: str
    detail: str = ""
    sha256: str | None = None
    labels: tuple[str, ...] = ()
    provenance: Provenance | None = field(default=None, compare=False)


@dataclass
class Plan:
    """What a source offers before anything is fetched or imported."""

    kind: SourceKind
    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    layout: str | None = None
    considered: int = 0  # rows, files or keys looked at
    ignored_files: int = 0  # files or keys without an image extension

    @property
    def labels(self) -> list[str]:
        return sorted({label for c in self.candidates for label in c.labels})


def iso_time(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")


def imported_entry(
    project: str, candidate: Candidate, sha256: str, task_id: int | None
) -> ImportEntry:
    p = candidate.provenance
    return ImportEntry(
        project=project,
        source=p.source,
        kind=p.kind,
        status="imported",
        sha256=sha256,
        task_id=task_id,
        labels="|".join(candidate.labels) or None,
        split=candidate.split,
        url=p.url,
        source_page=p.source_page,
        licence=p.licence,
        author=p.author,
        date=p.date,
        retrieved_at=p.retrieved_at,
    )


def skipped_entry(project: str, kind: str, skip: Skip) -> ImportEntry:
    p = skip.provenance
    status = "duplicate" if skip.reason == "duplicate" else "skipped"
    return ImportEntry(
        project=project,
        source=skip.source,
        kind=kind,
        status=status,
        sha256=skip.sha256,
        reason=f"{skip.reason}: {skip.detail}" if skip.detail else skip.reason,
        labels="|".join(skip.labels) or None,
        url=p.url if p else None,
        source_page=p.source_page if p else None,
        licence=p.licence if p else None,
        author=p.author if p else None,
        date=p.date if p else None,
        retrieved_at=p.retrieved_at if p else None,
    )
