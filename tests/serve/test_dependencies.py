"""The shared route dependencies: the engine, the settings and the API-key guard."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from serve.app import create_app
from serve.auth import require_api_key
from serve.dependencies import EngineDep, SettingsDep, get_engine
from serve.engine import Engine
from serve.errors import ApiError, install_error_handlers
from serve.routers import classify, media, search, stats
from serve.routers.results import check_k, search_filter
from serve.schemas import SearchFilters
from winnow.config import Settings


def _probe_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/probe")
    def probe(engine: EngineDep, settings: SettingsDep) -> dict:
        return {"same": settings is engine.settings, "project": settings.serve.project}

    return app


def test_an_app_without_an_engine_answers_503_json_with_retry_after() -> None:
    with TestClient(_probe_app()) as client:
        response = client.get("/probe")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["kind"] == "unavailable"


def test_settings_come_from_the_engine() -> None:
    app = _probe_app()
    app.state.engine = Engine(Settings(serve={"project": 3}))
    with TestClient(app) as client:
        assert client.get("/probe").json() == {"same": True, "project": 3}


def test_the_engine_can_be_overridden_per_app() -> None:
    app = _probe_app()
    app.dependency_overrides[get_engine] = lambda: Engine(Settings(serve={"project": 11}))
    with TestClient(app) as client:
        assert client.get("/probe").json()["project"] == 11


@pytest.mark.parametrize("router", [search.router, stats.router, media.router, classify.router])
def test_every_v1_router_requires_an_api_key(router) -> None:
    routes = [r for r in router.routes if isinstance(r, APIRoute)]
    assert routes
    for route in routes:
        assert route.path.startswith("/v1/")
        assert require_api_key in [d.dependency for d in route.dependencies]


def test_the_app_serves_every_router_path_once() -> None:
    paths = create_app(Settings(), load=False).openapi()["paths"]
    assert sorted(paths) == [
        "/healthz",
        "/readyz",
        "/v1/classify",
        "/v1/recommend",
        "/v1/samples",
        "/v1/search/image",
        "/v1/search/task/{task_id}",
        "/v1/search/text",
        "/v1/stats",
        "/v1/tasks/{task_id}/thumbnail",
    ]


def test_k_and_filters_are_checked_against_the_settings() -> None:
    settings = Settings(serve={"project": 5, "max_k": 20})
    assert check_k(20, settings) == 20
    with pytest.raises(ApiError) as too_large:
        check_k(21, settings)
    assert (too_large.value.status, too_large.value.kind) == (422, "k_too_large")
    scoped = search_filter(SearchFilters(labels=["cat"], exclude_flagged=True), settings)
    assert (scoped.labels, scoped.project, scoped.exclude_flagged) == (("cat",), 5, True)


def test_metrics_come_from_the_app_that_served_the_request() -> None:
    first, second = create_app(Settings(), load=False), create_app(Settings(), load=False)
    with TestClient(first) as one, TestClient(second) as other:
        one.get("/healthz")
        counted = 'winnow_api_requests_total{route="/healthz",status="200"}'
        assert counted in one.get("/metrics").text
        assert counted not in other.get("/metrics").text
