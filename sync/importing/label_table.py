"""A folder's label table: ``labels.csv`` beside the images, for labels a folder tree cannot
carry (several per image, or any layout at all).

Columns ``image`` (a path relative to the folder), ``labels`` (``|``-joined, the export
manifest's convention; empty for an unlabelled image) and, optionally, ``split``. This is
what ``winnow samples -w mosaics`` writes, so its multi-label set imports as it is.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from winnow.errors import WinnowError

LABEL_TABLE = "labels.csv"
SEPARATOR = "|"


class LabelTableError(WinnowError):
    """The label table cannot be used as it is; the message names the row."""


@dataclass(frozen=True)
class LabelRow:
    labels: tuple[str, ...]
    split: str | None


def find_label_table(folder: Path) -> Path | None:
    """``folder/labels.csv`` when it has the ``image`` and ``labels`` columns, else None: an
    unrelated file of that name is left alone."""
    path = folder / LABEL_TABLE
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh), [])
    return path if {"image", "labels"} <= {h.strip() for h in header} else None


def read_label_table(path: Path, folder: Path) -> dict[str, LabelRow]:
    """Resolved image path -> its labels and split. Rows must name files inside ``folder``."""
    root = folder.resolve()
    rows: dict[str, LabelRow] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"image", "labels"} - set(reader.fieldnames or ())
        if missing:
            raise LabelTableError(f"{path}: needs the columns image and labels")
        for line, row in enumerate(reader, start=2):
            name = (row.get("image") or "").strip()
            image = (root / name).resolve()
            if not name or not image.is_relative_to(root):
                raise LabelTableError(f"{path}:{line}: {name!r} is not a file inside {folder}")
            if str(image) in rows:
                raise LabelTableError(f"{path}:{line}: {name} is listed twice")
            labels = tuple(
                label.strip() for label in (row["labels"] or "").split(SEPARATOR) if label.strip()
            )
            rows[str(image)] = LabelRow(labels, (row.get("split") or "").strip() or None)
    return rows
