"""A local directory of versions: build in ``.staging-v<X.Y>-<random>/``, fsync every file,
then one rename. ``lock`` (``<root>/.winnow-export.lock``) keeps a second export out while one
runs, so removing stale staging directories never touches a live one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sync.export.checksums import MANIFEST, file_sha256, manifest_bytes
from sync.export.targets import Advance, version_dirs
from winnow.atomic import fsync_dir, fsync_tree
from winnow.errors import ConfigError
from winnow.locks import hold

LOCK_FILE = ".winnow-export.lock"


class LocalTarget:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One export at a time into this directory (refused at once, not queued)."""
        with hold(self.root / LOCK_FILE, what=f"an export to {self.root}"):
            yield

    def _dir(self, version: str) -> Path:
        return self.root / f"v{version}"

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        names = (p.name for p in self.root.iterdir() if (p / MANIFEST).is_file())
        return version_dirs(names)

    def read(self, version: str, name: str) -> bytes | None:
        path = self._dir(version) / name
        return path.read_bytes() if path.is_file() else None

    def files(self, version: str) -> dict[str, int]:
        base = self._dir(version)
        return {
            p.relative_to(base).as_posix(): p.stat().st_size
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }

    def hash_file(self, version: str, name: str) -> str:
        return file_sha256(self._dir(version) / name)

    def staging_dir(self, version: str) -> Path:
        """Beside the final directory (same file system, so the rename is atomic), unique to
        this run. Staging directories of earlier interrupted runs of this version are removed:
        under ``lock`` no other run can be using them."""
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in self.root.glob(f".staging-v{version}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return Path(tempfile.mkdtemp(prefix=f".staging-v{version}-", dir=self.root))

    def publish(
        self, staging: Path, version: str, manifest: dict[str, Any], advance: Advance | None = None
    ) -> None:
        final = self._dir(version)
        if final.exists():
            raise ConfigError(f"{final} already exists; choose another --version")
        (staging / MANIFEST).write_bytes(manifest_bytes(manifest))
        os.chmod(staging, 0o755)  # mkdtemp makes it private
        fsync_tree(staging)  # the bytes are on disk before the name says "published"
        os.rename(staging, final)
        fsync_dir(self.root)
        if advance is not None:
            advance(len(manifest["files"]))
