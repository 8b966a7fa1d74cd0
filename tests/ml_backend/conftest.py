"""The ML backend's test client; the shared model fixtures come from tests/model_fixtures.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ml_backend.app import create_app
from winnow.config import Settings


@pytest.fixture
def client_for() -> Iterator[Callable[..., TestClient]]:
    """``client_for(settings, predictor=None)``: a started app; all are stopped afterwards."""
    clients: list[TestClient] = []

    def make(settings: Settings, **kwargs: Any) -> TestClient:
        client = TestClient(create_app(settings, **kwargs), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
