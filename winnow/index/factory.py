"""Pick the vector index backend from settings: a Qdrant server if a URL is set, else Edge."""

from __future__ import annotations

from winnow.config import Settings
from winnow.index.base import VectorIndex


def server_url(settings: Settings) -> str | None:
    """The Qdrant server URL (``index.url``; also ``WINNOW_QDRANT_URL`` or ``QDRANT_URL``)."""
    return settings.index.url.rstrip("/") if settings.index.url else None


def open_index(settings: Settings) -> VectorIndex:
    """The configured index: qdrant-client against a server, or an embedded Qdrant Edge shard.

    Edge keeps one directory per collection under ``index.path`` (default ``data_dir/index``).
    """
    url = server_url(settings)
    if url:
        from winnow.index.server import ServerIndex

        return ServerIndex.connect(url, settings.index)
    from winnow.index.edge import EdgeIndex

    root = settings.index.path or settings.data_dir / "index"
    return EdgeIndex(root / settings.index.collection, settings.index)
