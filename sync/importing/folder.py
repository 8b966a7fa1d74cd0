"""A local folder as an import source: ``class/`` and ``split/class/`` layouts are read by
the core's folder walk; a class folder becomes the image's label, a split folder its split."""

from __future__ import annotations

from pathlib import Path

from sync.importing.provenance import Candidate, Plan, Provenance
from winnow.features.walk import Layout, scan_folder


def plan_folder(
    folder: Path,
    *,
    layout: Layout = "auto",
    licence: str | None = None,
    author: str | None = None,
) -> Plan:
    """Every image file under ``folder`` (sorted), with its label and split."""
    scan = scan_folder(folder, layout=layout)
    candidates = [
        Candidate(
            Provenance("folder", item.uri, licence=licence, author=author),
            read_uri=item.uri,
            labels=(item.label,) if item.label else (),
            split=item.split,
        )
        for item in scan.items
    ]
    return Plan(
        "folder",
        candidates,
        layout=scan.layout,
        considered=len(scan.items) + scan.skipped,
        ignored_files=scan.skipped,
    )
