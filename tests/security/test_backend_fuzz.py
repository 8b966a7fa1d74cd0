"""Schema fuzzing of the ML backend's protocol endpoints: no generated input may produce a 5xx.

The backend publishes no OpenAPI document (``openapi_url=None`` keeps its surface small), so
the schema is generated from the app itself and the cases are sent to the same app in-process.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from ml_backend.app import create_app

pytestmark = pytest.mark.slow

PROTOCOL = ("/setup", "/predict", "/webhook", "/health")


@pytest.fixture
def backend(make_settings, imagenet_predictor) -> Iterator[TestClient]:
    app = create_app(make_settings(), predictor=imagenet_predictor)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _server_errors(operation, client: TestClient, sent: list[str]) -> list[tuple[str, int, str]]:
    found: list[tuple[str, int, str]] = []

    @settings(
        max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy())
    def check(case) -> None:
        kwargs = case.as_transport_kwargs(base_url="")
        response = client.request(
            kwargs["method"],
            kwargs["url"],
            json=kwargs.get("json"),
            headers=kwargs.get("headers"),
            params=kwargs.get("params"),
        )
        sent.append(operation.path)
        if response.status_code >= 500:
            found.append((operation.label, response.status_code, response.text[:200]))

    check()
    return found


def test_protocol_endpoints_never_answer_5xx(backend: TestClient) -> None:
    schema = schemathesis.openapi.from_dict(backend.app.openapi())
    operations = [op.ok() for op in schema.get_all_operations()]
    fuzzed = [op for op in operations if op.path in PROTOCOL]
    assert {op.path for op in fuzzed} == set(PROTOCOL)  # nothing silently skipped
    failures, sent = [], []
    for operation in fuzzed:
        failures += _server_errors(operation, backend, sent)
    assert failures == []
    assert all(sent.count(path) >= 5 for path in PROTOCOL)  # each endpoint really exercised


def test_the_fuzzer_sees_a_server_error(backend: TestClient, monkeypatch) -> None:
    """The check above can fail: a handler that raises is reported."""

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(backend.app.state.backend.service, "plan", explode)
    schema = schemathesis.openapi.from_dict(backend.app.openapi())
    setup = next(op.ok() for op in schema.get_all_operations() if op.ok().path == "/setup")
    assert _server_errors(setup, backend, [])
