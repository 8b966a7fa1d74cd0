"""Pick the vector index backend from settings: a Qdrant server if a URL is set, else Edge."""

from __future__ import annotations

import os

from winnow.config import Settings
from winnow.index.base import VectorIndex

# Environment names the deployment docs use, read only when index.url is unset.
URL_ENV = ("WINNOW_QDRANT_URL", "QDRANT_URL")


def server_url(settings: Settings) -> str | None:
    """The Qdrant server URL from settings (``index.url``) or the environment, if any."""
    if settings.index.url:
        return settings.index.url.rstrip("/")
    for name in URL_ENV:
        if os.environ.get(name):
            return os.environ[name].rstrip("/")
    return None


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
