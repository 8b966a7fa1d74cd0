"""One index test suite, many engines: every test taking ``make_index`` runs on each backend.

- ``edge``: Qdrant Edge in-process (the embedded default);
- ``local``: qdrant-client's local mode (pure Python, persisted to a folder);
- ``server``: qdrant-client against the server named by ``QDRANT_URL`` (skipped without it);
  each test gets its own collection, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from winnow.config import IndexSettings
from winnow.index import VectorIndex
from winnow.index.edge import EdgeIndex
from winnow.index.server import ServerIndex

BACKENDS = ("edge", "local", "server")


@pytest.fixture(params=BACKENDS)
def make_index(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., VectorIndex]]:
    """``make_index(persistent=False, **index_settings)`` opens this test's index.

    Edge and the server always persist; local mode only with ``persistent=True``.
    """
    backend = request.param
    url = os.environ.get("QDRANT_URL")
    if backend == "server" and not url:
        pytest.skip("server variant runs only when QDRANT_URL names a Qdrant server")
    collection = f"winnow_test_{uuid.uuid4().hex[:12]}"
    opened: list[VectorIndex] = []

    def make(*, persistent: bool = False, **overrides: object) -> VectorIndex:
        settings = IndexSettings(collection=collection, **overrides)  # type: ignore[arg-type]
        if backend == "edge":
            index: VectorIndex = EdgeIndex(tmp_path / "edge", settings)
        elif backend == "local":  # on disk it commits per point: slow, so only when asked
            index = ServerIndex.local_mode(
                tmp_path / "local" if persistent else ":memory:", settings
            )
        else:
            index = ServerIndex.connect(url, settings)  # type: ignore[arg-type]
        opened.append(index)
        return index

    make.backend = backend  # type: ignore[attr-defined]
    yield make
    for index in opened:
        index.close()
    if backend == "server":
        cleanup = ServerIndex.connect(url, IndexSettings(collection=collection))  # type: ignore[arg-type]
        cleanup.client.delete_collection(collection)
        cleanup.close()
