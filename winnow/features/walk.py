"""Walk a folder into a list of images, reading labels and splits from its layout.

Layouts: ``flat`` (no labels), ``class`` (``class/image``) and ``split/class``
(``train/cat/image``). ``auto`` picks ``split/class`` when every top-level folder is a known
split name, ``class`` when there are top-level folders, else ``flat``. Files are chosen by
extension so that a text file named ``.jpg`` is still checked (and flagged) rather than
silently ignored; other files are counted as skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from winnow.imageio.localfiles import allowed_local_file, scheme_of

Layout = Literal["auto", "flat", "class", "split/class"]
IMAGE_EXTENSIONS = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".gif",
        ".bmp",
        ".tif",
        ".tiff",
        ".webp",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
    ]
)
SPLIT_NAMES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
}


@dataclass(frozen=True)
class SourceItem:
    """One image to process: where it is, and the label/split its location implies."""

    uri: str
    label: str | None = None
    split: str | None = None


@dataclass(frozen=True)
class ScanResult:
    items: list[SourceItem]
    layout: Layout
    skipped: int  # files without an image extension

    @property
    def folders(self) -> tuple[Path, ...]:
        """The folders holding the found images (symlinks resolved): what a run over this
        scan passes as ``trusted_roots``, so the operator's folder may be read."""
        return folders_of(item.uri for item in self.items)


def folders_of(paths: Iterable[str]) -> tuple[Path, ...]:
    """The distinct folders holding ``paths`` (local paths, as a scan lists them)."""
    return tuple(sorted({Path(path).parent for path in paths}))


def detect_layout(root: Path) -> Layout:
    dirs = [d for d in _visible(root) if d.is_dir()]
    if not dirs:
        return "flat"
    if all(d.name.lower() in SPLIT_NAMES for d in dirs):
        return "split/class"
    return "class"


def scan_folder(root: Path | str, *, layout: Layout = "auto") -> ScanResult:
    """List the images under ``root`` (recursively, sorted) with their label and split.

    With the ``class`` layout, the label is the first folder level below ``root`` (deeper
    folders are sub-groups of that class); with ``split/class`` it is the second level.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    chosen = detect_layout(root) if layout == "auto" else layout
    items: list[SourceItem] = []
    skipped = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_parts = Path(dirpath).relative_to(root).parts
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() not in IMAGE_EXTENSIONS:
                skipped += 1
                continue
            label, split = _label_split(rel_parts, chosen)
            items.append(SourceItem(str(Path(dirpath, name).resolve()), label, split))
    return ScanResult(items=items, layout=chosen, skipped=skipped)


def _label_split(parts: tuple[str, ...], layout: Layout) -> tuple[str | None, str | None]:
    if layout == "class":
        return (parts[0] if parts else None), None
    if layout == "split/class":
        split = SPLIT_NAMES.get(parts[0].lower(), parts[0]) if parts else None
        return (parts[1] if len(parts) > 1 else None), split
    return None, None


def is_remote(uri: str) -> bool:
    """Whether ``uri`` names a remote object (HTTP, S3, ...), whose content at a recorded
    address is taken as immutable; local paths and ``file:`` URLs (any case) are not."""
    scheme = scheme_of(uri)
    return scheme is not None and scheme != "file"


def local_stat(uri: str, roots: Sequence[Path]) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` for a local file under ``roots``; None for URLs, missing files and
    files outside the roots (never looked at: a path from data must not probe the disk)."""
    path = allowed_local_file(uri, roots)
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _visible(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if not p.name.startswith("."))
