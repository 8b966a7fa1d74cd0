"""Which local files an image source may name: one check for every reader.

Image sources come from two places. Data (task JSON, URL lists, manifests) is written by
whoever can edit a Label Studio project or a list, so a path in it must not open the
server's disk: data may name a local file only under ``io.local_roots``, and with no roots
configured it may name none. A folder the operator typed on the command line is trusted:
code that walks it passes it as a trusted root (``ImageReader(trusted_roots=...)``,
``extract_features(trusted_roots=...)``). Both kinds of root go through :func:`confine`.

A refusal reads the same whether the file exists or not, and never says where a symlink
points, so a refused source tells its author nothing about the disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from winnow.errors import BlockedSourceError

# Two or more characters, so a drive letter or "./a:b.jpg" is never taken for a scheme.
SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+):")
REFUSED = "local files named by image data are refused outside io.local_roots"


def scheme_of(source: str) -> str | None:
    """The lower-cased scheme of ``source`` (``FILE://`` is ``file``), None for a path."""
    match = SCHEME.match(source)
    return match.group(1).lower() if match else None


def file_path(source: str) -> Path | None:
    """The local path ``source`` names (a plain path, or a ``file:`` URL in any letter case,
    ``file://localhost/`` too); None for any other scheme. A ``file:`` URL naming another
    host raises :class:`BlockedSourceError`."""
    scheme = scheme_of(source)
    if scheme is None:
        return Path(source)
    if scheme != "file":
        return None
    parts = urlsplit(source)
    if parts.netloc.lower() not in ("", "localhost"):
        raise BlockedSourceError(source, f"file URL names a remote host {parts.netloc!r}")
    return Path(url2pathname(parts.path))


def confine(path: Path, roots: Sequence[Path], *, source: str) -> Path:
    """``path`` resolved, if it lies under one of ``roots`` both as written and after
    symlinks; else :class:`BlockedSourceError`. The written form is checked first (against
    each root as given and resolved), so a path outside every root is refused without
    touching the disk."""
    if not roots:
        raise BlockedSourceError(source, REFUSED)
    try:
        real_roots = [Path(root).resolve() for root in roots]
        written = Path(os.path.abspath(path))
        spelled = [Path(os.path.abspath(root)) for root in roots] + real_roots
        if not any(written.is_relative_to(root) for root in spelled):
            raise BlockedSourceError(source, REFUSED)
        resolved = written.resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # NUL byte, symlink loop, ...
        raise BlockedSourceError(source, "invalid local path") from exc
    if not any(resolved.is_relative_to(root) for root in real_roots):
        raise BlockedSourceError(source, REFUSED)  # a symlink leads out of the roots
    return resolved


def allowed_local_file(source: str, roots: Sequence[Path]) -> Path | None:
    """The confined path of a local ``source``, None when it is not local or not allowed."""
    try:
        path = file_path(source)
        return None if path is None else confine(path, roots, source=source)
    except BlockedSourceError:
        return None
