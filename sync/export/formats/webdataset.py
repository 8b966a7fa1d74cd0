"""WebDataset tar shards: ``shards/<split>-000000.tar`` holding ``<key>.<ext>`` plus
``<key>.json`` (labels, sha256, size, source) and, for single-label data, ``<key>.cls``.

A shard is closed before it would pass ``max_bytes``, so shards stay near the configured
size (one image larger than that gets a shard of its own). Members carry fixed owners and
mtime 0, so the same data gives the same shard bytes, and a resumed upload can skip shards
that are already there.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

_TAR_OVERHEAD = 3 * 512  # a header per member plus padding, roughly


class ShardWriter:
    """Shards for one split under ``root``; ``add`` then ``close``."""

    def __init__(self, root: Path, split: str, *, max_bytes: int) -> None:
        self.root = root
        self.split = split
        self.max_bytes = max_bytes
        self.paths: list[Path] = []
        self._tar: tarfile.TarFile | None = None
        self._size = 0

    def add(self, key: str, ext: str, data: bytes, meta: dict[str, Any]) -> str:
        """Append one sample; returns the file name of the shard it went into."""
        members = [(f"{key}{ext}", data), (f"{key}.json", _json(meta))]
        if meta.get("class_index") is not None:
            members.append((f"{key}.cls", str(meta["class_index"]).encode()))
        size = sum(len(body) + _TAR_OVERHEAD for _, body in members)
        tar = self._tar
        if tar is None or (self._size and self._size + size > self.max_bytes):
            tar = self._open_next()
        for name, body in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(body), 0, 0o644
            info.uname = info.gname = "winnow"
            tar.addfile(info, io.BytesIO(body))
        self._size += size
        return self.paths[-1].name

    def _open_next(self) -> tarfile.TarFile:
        self.close()
        path = self.root / f"{self.split}-{len(self.paths):06d}.tar"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.paths.append(path)
        self._tar = tarfile.open(path, "w", format=tarfile.USTAR_FORMAT)  # noqa: SIM115 - closed in close()
        self._size = 0
        return self._tar

    def close(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._tar = None


def _json(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True, ensure_ascii=False).encode()
