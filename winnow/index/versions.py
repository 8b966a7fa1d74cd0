"""Versioned Qdrant Edge folders: build beside the served index, then publish by a pointer.

A Qdrant Edge shard can be open in one process at a time, and a process that has it open
does not see points another process writes later. So `winnow index` never writes into the
folder the API serves: it copies the current version into a new folder, brings the copy up
to date, and publishes it by replacing a small pointer file (write, fsync, rename). Readers
follow the pointer (:mod:`winnow.index.live`) and never see a half-built index. Layout,
per collection under ``index.path`` (default ``data_dir/index``)::

    <collection>/               the folder from before versions: version 0 until the first build
    <collection>.versions/
        CURRENT                 the published version's name, replaced atomically
        .writer.lock            held by the one build running (a second one is refused)
        000001/  000002/        complete shards; a build in progress is .building-<name>
        000002/.readers         flocked (shared) by every process that has the version open

Builds prune what is older than the current and the previous version, skipping any version
a reader still holds (an exclusive flock on ``.readers`` fails while a shared one is held).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from winnow.atomic import fsync_dir, fsync_tree, write_atomic
from winnow.errors import ConfigError
from winnow.index.copying import copy_shard
from winnow.locks import hold

POINTER = "CURRENT"
READERS = ".readers"
BUILDING = ".building-"
NAME = re.compile(r"\d{6,}")
SHARD_CONFIG = "edge_config.json"  # Qdrant Edge writes it when a shard is created


class VersionStore:
    """The versions of one Edge collection: which is current, how to build and publish one."""

    def __init__(self, root: Path, collection: str) -> None:
        self.legacy = Path(root) / collection
        self.home = Path(root) / f"{collection}.versions"
        self.pointer = self.home / POINTER

    def current(self) -> Path:
        """The published version, or the pre-versions folder (version 0) when none is."""
        try:
            name = self.pointer.read_text().strip()
        except FileNotFoundError:
            return self.legacy
        if not NAME.fullmatch(name):
            raise ConfigError(f"{self.pointer} names no version ({name!r}); rebuild the index")
        return self.home / name

    def stamp(self) -> tuple[int, int] | None:
        """Changes whenever a version is published (a new pointer file is a new inode)."""
        try:
            stat = os.stat(self.pointer)
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def published(self) -> list[Path]:
        """Every complete version, oldest first; version 0 (the old folder) leads if present."""
        found = sorted(self.home.iterdir()) if self.home.is_dir() else []
        versions = [p for p in found if NAME.fullmatch(p.name) and p.is_dir()]
        return ([self.legacy] if self.legacy.is_dir() else []) + versions

    @contextmanager
    def build(self) -> Iterator[Path]:
        """A new version's folder, started as a copy of the current one. Close every index
        opened on it before the block ends: then it is published and older versions pruned.
        If the block raises, the folder is removed and the pointer stays where it was."""
        self.home.mkdir(parents=True, exist_ok=True)
        with hold(self.home / ".writer.lock", what=f"an index build of {self.legacy.name!r}"):
            source, name = self.current(), self._next_name()
            staging = self.home / f"{BUILDING}{name}"
            shutil.rmtree(staging, ignore_errors=True)  # left by a build that was killed
            try:
                if (source / SHARD_CONFIG).exists():
                    copy_shard(source, staging, skip=(READERS,))
                else:
                    staging.mkdir()
                yield staging
                fsync_tree(staging)
                os.rename(staging, self.home / name)
                fsync_dir(self.home)
                write_atomic(self.pointer, f"{name}\n")
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            self.prune()

    def _next_name(self) -> str:
        numbers = [int(p.name) for p in self.published() if NAME.fullmatch(p.name)]
        return f"{max(numbers, default=0) + 1:06d}"

    def prune(self) -> list[Path]:
        """Remove versions older than the previous one that no reader holds; returns them."""
        versions, current = self.published(), self.current()
        if current not in versions:  # a pointer without its folder: touch nothing
            return []
        older = versions[: max(versions.index(current) - 1, 0)]
        stale = list(self.home.glob(f"{BUILDING}*"))  # builds that were killed
        return [path for path in [*older, *stale] if remove_unless_read(path)]


def hold_for_reading(version: Path) -> int | None:
    """A shared lock that keeps ``version`` from being pruned; None if the folder does not
    exist (nothing to protect). ``BlockingIOError`` if a prune is removing it right now."""
    try:
        fd = os.open(version / READERS, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def release(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor drops its flock


def remove_unless_read(path: Path) -> bool:
    """Delete a version folder unless a reader holds it (their shared flock blocks ours)."""
    try:
        fd = os.open(path / READERS, os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:  # already gone
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        shutil.rmtree(path)
        return True
    finally:
        os.close(fd)
