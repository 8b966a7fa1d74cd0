"""Copy a Qdrant Edge shard folder, keeping its files sparse.

Edge preallocates its write-ahead log and mmap chunks (32 MB each) and writes only a part,
so a 10k-point shard takes 93 MB on disk but 2 MB of a small one is data. ``shutil`` copies
the holes as zeros (a 2 MB shard became 168 MB); this copies only the data extents
(``SEEK_DATA``/``SEEK_HOLE``) and falls back to a plain copy where those are missing.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

CHUNK = 1 << 20


def copy_shard(source: Path, dest: Path, *, skip: Sequence[str] = ()) -> None:
    """Copy the folder ``source`` to ``dest`` (which must not exist), files sparse."""
    shutil.copytree(source, dest, copy_function=copy_sparse, ignore=shutil.ignore_patterns(*skip))


def copy_sparse(source: str | Path, dest: str | Path) -> str | Path:
    """Copy one file's data extents; holes stay holes. Returns ``dest`` (for copytree)."""
    with open(source, "rb") as fin, open(dest, "wb") as fout:
        size = os.fstat(fin.fileno()).st_size
        try:
            extents = list(_extents(fin.fileno(), size))
        except OSError as exc:  # no SEEK_DATA on this file system: copy every byte
            if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
                raise
            extents = [(0, size)]
        for start, end in extents:
            fin.seek(start)
            fout.seek(start)
            while start < end:
                chunk = fin.read(min(CHUNK, end - start))
                if not chunk:
                    break
                fout.write(chunk)
                start += len(chunk)
        fout.truncate(size)
    shutil.copystat(source, dest)
    return dest


def _extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each run of data in the file."""
    if not hasattr(os, "SEEK_DATA"):
        raise OSError(errno.EOPNOTSUPP, "no SEEK_DATA")
    position = 0
    while position < size:
        try:
            start = os.lseek(fd, position, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # only a hole is left
                return
            raise
        end = os.lseek(fd, start, os.SEEK_HOLE)
        yield start, end
        position = end
