"""Durable, all-or-nothing file writes: the one way Winnow replaces a file in place.

``write_atomic`` writes a temporary file beside the target, fsyncs it, renames it over the
target and fsyncs the directory. A reader sees the old file or the new one, never a
truncated mix; a crash (or an exception) before the rename leaves the old file as it was, and
after the rename the new bytes are on disk, not only in the page cache. ``fsync_tree`` does
the same for a staged directory before it is renamed into place (an export version).

Hand-written because the library that used to do this (``atomicwrites``) is archived; the
whole recipe is a dozen lines of ``os`` calls.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

FSYNC_THREADS = 8  # fsync waits on the disk and releases the GIL


def write_atomic(
    path: Path | str, data: bytes | str | Iterable[bytes], *, mode: int | None = None
) -> None:
    """Replace ``path`` with ``data`` (bytes, text as UTF-8, or chunks), durably and at once.

    Without ``mode`` the new file gets 0o666 less the umask, as ``open`` would give; with it,
    exactly ``mode``. When the write fails the temporary file is removed and the old file is
    left untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    unique = f"{os.getpid()}-{threading.get_ident()}-{secrets.token_hex(4)}"
    tmp = path.with_name(f".{path.name}.{unique}.tmp")  # beside it: same file system
    if isinstance(data, str):
        data = data.encode()
    chunks = [data] if isinstance(data, bytes | bytearray | memoryview) else data
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path | str) -> None:
    """Make a rename or a new entry in ``path`` durable (the directory's own metadata)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path | str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path | str) -> int:
    """fsync every file and directory under ``root`` (``root`` included); returns how many
    files. Call before renaming a staged directory into place."""
    root = Path(root)
    files, folders = [], [root]
    for path in root.rglob("*"):
        (folders if path.is_dir() else files).append(path)
    with ThreadPoolExecutor(max_workers=FSYNC_THREADS) as pool:
        list(pool.map(fsync_file, files))
    for folder in folders:
        fsync_dir(folder)
    return len(files)
