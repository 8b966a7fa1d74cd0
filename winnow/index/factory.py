"""Pick the vector index backend from settings: a Qdrant server if a URL is set, else Edge.

Three ways to open it, by what the caller does with it:

- ``build_index``: a writer (`winnow index`). Edge: a new version, published when the block
  ends; a server: the collection itself (a server serves while it is written).
- ``open_live_index``: a long-lived reader (the API). Edge: follows published versions.
- ``open_index``: one process reads and writes the current version in place (tests, scripts).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from winnow.config import Settings
from winnow.index.base import VectorIndex
from winnow.index.versions import VersionStore


def server_url(settings: Settings) -> str | None:
    """The Qdrant server URL (``index.url``; also ``WINNOW_QDRANT_URL`` or ``QDRANT_URL``)."""
    return settings.index.url.rstrip("/") if settings.index.url else None


def edge_versions(settings: Settings) -> VersionStore:
    """The Edge collection's versions under ``index.path`` (default ``data_dir/index``)."""
    root = settings.index.path or settings.data_dir / "index"
    return VersionStore(Path(root), settings.index.collection)


def _server(settings: Settings) -> VectorIndex | None:
    url = server_url(settings)
    if not url:
        return None
    from winnow.index.server import ServerIndex

    return ServerIndex.connect(url, settings.index)


def open_index(settings: Settings) -> VectorIndex:
    """The configured index: qdrant-client against a server, or the current Edge version.

    Edge keeps one directory per version (:mod:`winnow.index.versions`); this opens the
    published one, or ``index.path/<collection>`` before the first build. Writes go into it
    in place, so only one process may have it open: a running API uses ``open_live_index``.
    """
    server = _server(settings)
    if server is not None:
        return server
    from winnow.index.edge import EdgeIndex

    return EdgeIndex(edge_versions(settings).current(), settings.index)


def open_live_index(settings: Settings, *, poll_s: float = 1.0) -> VectorIndex:
    """For a long-lived reader: a server index, or an Edge index that swaps to each newly
    published version within ``poll_s`` without dropping a call."""
    server = _server(settings)
    if server is not None:
        return server
    from winnow.index.live import LiveIndex

    return LiveIndex(edge_versions(settings), settings.index, poll_s=poll_s)


@contextmanager
def build_index(settings: Settings) -> Iterator[VectorIndex]:
    """An index to bring up to date. Edge: a copy of the current version, published (and old
    versions pruned) when the block ends, discarded if it raises. A server: the collection."""
    server = _server(settings)
    if server is not None:
        try:
            yield server
        finally:
            server.close()
        return
    from winnow.index.edge import EdgeIndex

    with edge_versions(settings).build() as folder:
        index = EdgeIndex(folder, settings.index)
        try:
            yield index
        finally:
            index.close()


def index_location(settings: Settings) -> str:
    """Where the index lives, for messages: the server URL or the current Edge folder."""
    return server_url(settings) or str(edge_versions(settings).current())
