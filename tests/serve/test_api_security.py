"""API keys, error hygiene, and schema fuzzing: no input may produce a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from serve.app import create_app
from winnow.config import Settings

pytestmark = pytest.mark.slow


@pytest.fixture()
def keyed(serve_settings: Settings, parts, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WINNOW_SERVE__API_KEYS", "first-key-123, second-key-456")
    keyed_settings = Settings(data_dir=serve_settings.data_dir, serve={"project": 7})
    with TestClient(create_app(keyed_settings, parts=parts, load=False)) as client:
        yield client


def test_api_keys_guard_every_v1_route_but_not_the_probes(keyed: TestClient) -> None:
    assert keyed.get("/healthz").status_code == 200
    missing = keyed.get("/v1/stats")
    assert missing.status_code == 401 and missing.json()["error"] == "missing X-API-Key header"
    wrong = keyed.get("/v1/stats", headers={"X-API-Key": "first-key-12"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid API key"
    for key in ("first-key-123", "second-key-456"):  # rotation: both keys work
        assert keyed.get("/v1/stats", headers={"X-API-Key": key}).status_code == 200


def test_unexpected_errors_answer_500_without_a_trace(client: TestClient, monkeypatch) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(client.app.state.engine, "stats", explode)
    response = client.get("/v1/stats")
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal error; the server log has details",
        "kind": "internal_error",
    }


def test_unknown_routes_are_json_404(client: TestClient) -> None:
    response = client.get("/v2/nothing")
    assert response.status_code == 404 and response.json()["kind"] == "not_found"


@pytest.fixture()
def fuzz_schema(serve_settings: Settings, parts):
    app = create_app(serve_settings, parts=parts, load=False)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _server_errors(operation) -> list[tuple[str, int, str]]:
    """Run generated cases against one operation; collect 5xx answers."""
    label, found = operation.label, []

    @settings(
        max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy())
    def check(case) -> None:
        response = case.call()
        documented = response.status_code == 501 and "/search/text" in label
        if response.status_code >= 500 and not documented:
            found.append((label, response.status_code, response.text[:200]))

    check()
    return found


def test_schemathesis_finds_no_server_error(fuzz_schema) -> None:
    """Every operation, generated inputs: no 5xx except text search's documented 501."""
    failures = []
    for result in fuzz_schema.get_all_operations():
        failures += _server_errors(result.ok())
    assert failures == []
