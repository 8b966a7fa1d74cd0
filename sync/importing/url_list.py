"""A URL list as an import source: rows parsed and validated by the core, URLs downloaded
concurrently through the SSRF guard, new content kept as content-addressed files.

Downloads are always kept on disk (``<dest>/<sha[:2]>/<sha>.<ext>``): features are computed
from them, and in ``copy`` mode Label Studio serves them through a local storage, so the
data set does not rot when a web page goes away. In ``link`` mode tasks point at the
original URLs and the copies only feed the feature store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from sync.importing.provenance import Candidate, Plan, Provenance, Skip
from winnow.atomic import write_atomic
from winnow.config import ImageIOSettings
from winnow.ingest.download import Downloader, DownloadPolicy
from winnow.ingest.url_list import parse_url_list

EXTENSIONS = {
    "JPEG": ".jpg",
    "PNG": ".png",
    "GIF": ".gif",
    "WEBP": ".webp",
    "TIFF": ".tif",
    "BMP": ".bmp",
    "ICO": ".ico",
    "JPEG2000": ".jp2",
    "AVIF": ".avif",
    "HEIF": ".heic",
    "QOI": ".qoi",
    "PPM": ".ppm",
    "PSD": ".psd",
}


def plan_url_list(path: Path, *, licence: str | None = None, author: str | None = None) -> Plan:
    """Rows of the list as candidates (not downloaded yet); bad rows and repeats skipped.

    ``licence`` and ``author`` fill rows that do not give their own.
    """
    parsed = parse_url_list(path)
    plan = Plan("url_list", considered=len(parsed.rows) + len(parsed.errors))
    plan.skipped += [
        Skip(f"{path.name} line {e.line}", "invalid_row", e.message) for e in parsed.errors
    ]
    first_line: dict[str, int] = {}
    for row in parsed.rows:
        if row.url in first_line:
            detail = f"URL listed again (first on line {first_line[row.url]})"
            plan.skipped.append(Skip(row.url, "duplicate", detail, labels=row.labels))
            continue
        first_line[row.url] = row.line
        provenance = Provenance(
            "url_list",
            row.url,
            url=row.url,
            source_page=row.source_page,
            licence=row.licence or licence,
            author=row.author or author,
            date=row.date,
        )
        plan.candidates.append(Candidate(provenance, read_uri="", labels=row.labels))
    return plan


def download_candidates(
    candidates: list[Candidate],
    *,
    io: ImageIOSettings,
    policy: DownloadPolicy,
    dest: Path,
    link: bool,
    known: Mapping[str, str],
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Candidate], list[Skip]]:
    """Download every candidate; new content is saved under ``dest`` and returned in list
    order, everything else (errors, duplicates of ``known`` or earlier arrivals) skipped."""
    order = {c.source: i for i, c in enumerate(candidates)}
    by_url = {c.source: c for c in candidates}
    ready: list[Candidate] = []
    skipped: list[Skip] = []
    with Downloader(io, policy, known=known) as downloader:
        for got in downloader.download_all(list(by_url)):
            candidate = by_url[got.url]
            provenance = replace(candidate.provenance, retrieved_at=got.retrieved_at)
            if got.ok and got.data is not None and got.sha256 and got.format:
                path = save_content(dest, got.sha256, got.format, got.data)
                ready.append(
                    replace(
                        candidate,
                        provenance=provenance,
                        read_uri=str(path),
                        sha256=got.sha256,
                        image_ref=got.url if link else None,
                    )
                )
            else:
                skipped.append(
                    Skip(
                        got.url,
                        got.error_kind or "internal_error",
                        got.reason or "",
                        got.sha256,
                        candidate.labels,
                        provenance,
                    )
                )
            if progress:
                progress(1)
    ready.sort(key=lambda c: order[c.source])
    return ready, skipped


def save_content(dest: Path, sha256: str, fmt: str, data: bytes) -> Path:
    """Write ``data`` once at its content address; an existing copy is kept as is."""
    path = dest / sha256[:2] / (sha256 + EXTENSIONS.get(fmt, ".bin"))
    if path.is_file() and path.stat().st_size == len(data):
        return path
    write_atomic(path, data, mode=0o644)  # Label Studio, another user, serves it
    return path
