"""A local folder as an import source: ``class/`` and ``split/class/`` layouts are read by
the core's folder walk; a class folder becomes the image's label, a split folder its split.
A label table (``labels.csv``, see :mod:`sync.importing.label_table`) overrides both, and is
how label sets arrive with a folder."""

from __future__ import annotations

from pathlib import Path

from sync.importing.label_table import (
    LabelTableError,
    find_label_table,
    read_label_table,
)
from sync.importing.provenance import Candidate, Plan, Provenance
from winnow.features.walk import Layout, scan_folder


def plan_folder(
    folder: Path,
    *,
    layout: Layout = "auto",
    licence: str | None = None,
    author: str | None = None,
    label_table: Path | None = None,
) -> Plan:
    """Every image file under ``folder`` (sorted), with its label(s) and split.

    ``label_table`` defaults to ``folder/labels.csv`` when that file has the right columns.
    """
    scan = scan_folder(folder, layout=layout)
    table_path = label_table or find_label_table(folder)
    table = read_label_table(table_path, folder) if table_path else None
    if table is not None:
        listed = {item.uri for item in scan.items}
        absent = [uri for uri in table if uri not in listed]
        if absent:
            raise LabelTableError(
                f"{table_path}: {len(absent)} rows name no image file in {folder} "
                f"(first: {absent[0]})"
            )
    candidates = []
    for item in scan.items:
        labels: tuple[str, ...] = (item.label,) if item.label else ()
        split = item.split
        if table is not None:
            row = table.get(item.uri)
            labels = row.labels if row else ()
            split = (row.split if row else None) or split
        candidates.append(
            Candidate(
                Provenance("folder", item.uri, licence=licence, author=author),
                read_uri=item.uri,
                labels=labels,
                split=split,
            )
        )
    return Plan(
        "folder",
        candidates,
        layout=table_path.name if table_path else scan.layout,
        considered=len(scan.items) + scan.skipped,
        ignored_files=scan.skipped,
    )
