"""``checksums.sha256`` (the ``sha256sum`` format, so ``sha256sum -c`` works too) and the
version manifest ``_MANIFEST.json``, which lists every file with its hash and size and is
written last: a version without it is not published."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

CHECKSUMS = "checksums.sha256"
MANIFEST = "_MANIFEST.json"
MANIFEST_FORMAT = "winnow-export/1"


def file_sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_checksums(root: Path) -> dict[str, str]:
    """Hash every file under ``root`` (except the manifest) into ``checksums.sha256``."""
    sums = {
        path.relative_to(root).as_posix(): file_sha256(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name not in (CHECKSUMS, MANIFEST)
    }
    text = "".join(f"{digest}  {name}\n" for name, digest in sums.items())
    (root / CHECKSUMS).write_text(text)
    sums[CHECKSUMS] = hashlib.sha256(text.encode()).hexdigest()
    return sums


def parse_checksums(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.strip():
            digest, _, name = line.partition("  ")
            out[name] = digest
    return out


def build_manifest(root: Path, sums: dict[str, str], info: dict[str, Any]) -> dict[str, Any]:
    files = {
        name: {"sha256": digest, "size": (root / name).stat().st_size}
        for name, digest in sorted(sums.items())
    }
    return {"format": MANIFEST_FORMAT, **info, "files": files}


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return json.dumps(manifest, indent=1, sort_keys=True).encode()
