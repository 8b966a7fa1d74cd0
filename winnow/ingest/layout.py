"""Folder layouts read from relative keys, for sources that are not a local folder (S3).

Same rules as :func:`winnow.features.walk.scan_folder`: ``split/class`` when every top-level
folder is a known split name, ``class`` when there are top-level folders, else ``flat``;
with ``class`` the label is the first folder level, with ``split/class`` the second.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

from winnow.features.walk import IMAGE_EXTENSIONS, SPLIT_NAMES, Layout


def is_image_key(key: str) -> bool:
    """Chosen by extension, like the folder walk: a text file named .jpg is still checked."""
    name = PurePosixPath(key).name
    return (
        bool(name)
        and not name.startswith(".")
        and (PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS)
    )


def detect_key_layout(keys: Sequence[str]) -> Layout:
    """The layout implied by ``keys`` (paths relative to the prefix, ``/``-separated)."""
    tops = {PurePosixPath(k).parts[0] for k in keys if len(PurePosixPath(k).parts) > 1}
    if not tops:
        return "flat"
    if all(top.lower() in SPLIT_NAMES for top in tops):
        return "split/class"
    return "class"


def labels_from_keys(
    keys: Sequence[str], *, layout: Layout = "auto"
) -> tuple[Layout, list[tuple[str | None, str | None]]]:
    """``(layout, [(label, split), ...])`` for relative ``keys``, in the order given."""
    chosen = detect_key_layout(keys) if layout == "auto" else layout
    out: list[tuple[str | None, str | None]] = []
    for key in keys:
        parts = PurePosixPath(key).parts[:-1]
        if chosen == "class":
            out.append((parts[0] if parts else None, None))
        elif chosen == "split/class":
            split = SPLIT_NAMES.get(parts[0].lower(), parts[0]) if parts else None
            out.append((parts[1] if len(parts) > 1 else None, split))
        else:
            out.append((None, None))
    return chosen, out
