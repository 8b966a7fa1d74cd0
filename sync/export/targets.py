"""Where versions live: a local directory or ``s3://bucket/prefix``, behind one interface.

Each version is ``<dest>/v<X.Y>/`` and is published exactly when its ``_MANIFEST.json``
exists (written last). Locally the version is built in a hidden staging directory beside it
and renamed into place; on S3 the objects are uploaded first and the manifest put last, so
readers that go by the manifest (``versions``, ``--verify``, the next export's changelog)
never see a half version. An export holds the target's ``lock`` from choosing the version
to publishing it, so two runs never pick the same version or touch each other's files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from winnow.config import Settings
from winnow.errors import ConfigError
from winnow.progress import Advance

VERSION = re.compile(r"^(\d+)\.(\d+)$")


class Target(Protocol):
    url: str

    def lock(self) -> AbstractContextManager[None]:
        """Exclusive for one export run: a second run is refused (``LockBusyError``)."""
        ...

    def versions(self) -> list[str]:
        """Published versions, oldest first."""
        ...

    def read(self, version: str, name: str) -> bytes | None:
        """A file of a version (None when absent)."""
        ...

    def files(self, version: str) -> dict[str, int]:
        """Every file stored under the version (published or not): name -> size."""
        ...

    def hash_file(self, version: str, name: str) -> str:
        """sha256 of a stored file, streamed."""
        ...

    def staging_dir(self, version: str) -> Path:
        """A fresh local directory to build the version in."""
        ...

    def publish(
        self, staging: Path, version: str, manifest: dict[str, Any], advance: Advance | None = None
    ) -> None:
        """Make the built version visible, all at once."""
        ...


def check_version(version: str) -> str:
    if not VERSION.match(version):
        raise ConfigError(f"version must look like 1.0 (major.minor), got {version!r}")
    return version


def version_key(version: str) -> tuple[int, int]:
    match = VERSION.match(version)
    return (int(match.group(1)), int(match.group(2))) if match else (-1, -1)


def next_version(published: list[str]) -> str:
    """The next minor after the newest published version; 1.0 for the first."""
    if not published:
        return "1.0"
    major, minor = max(version_key(v) for v in published)
    return f"{major}.{minor + 1}"


def version_dirs(names: Iterator[str]) -> list[str]:
    found = [n[1:] for n in names if n.startswith("v") and VERSION.match(n[1:])]
    return sorted(found, key=version_key)


def open_target(dest: str, settings: Settings) -> Target:
    """A local directory, or an S3 prefix through boto3 with ``settings.s3``."""
    if dest.startswith("s3://"):
        from sync.export.target_s3 import S3Target

        return S3Target(dest, settings)
    if "://" in dest:
        raise ConfigError(f"export destination must be a directory or s3://bucket/prefix: {dest}")
    from sync.export.target_local import LocalTarget

    return LocalTarget(Path(dest))
