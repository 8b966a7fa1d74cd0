"""Issue 17, finding 15: what the API's unauthenticated endpoints tell a stranger.

Against a real ``winnow serve``: with a broken index, ``/readyz`` says which part failed and
nothing about why (the reason, with the internal path, is in the server log only). With the
default settings, ``/docs`` and ``/openapi.json`` are public (they describe what
docs/serve.md already publishes) and ``/metrics`` needs a key.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_process import ApiServer, build_index, running_api

from winnow.index.edge import CONFIG_FILE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "leaks-key-1"
MARKER = "internal-index-dir-4711"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, imagenet_predictor) -> Iterator[ApiServer]:
    data_dir = tmp_path_factory.mktemp("api_leaks")
    build_index(data_dir, imagenet_predictor)
    with running_api(data_dir, env={"WINNOW_SERVE__API_KEYS": KEY}) as server:
        yield server


@pytest.fixture(scope="module")
def broken_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """An index whose files are corrupt: opening it raises with its path in the message."""
    data_dir = tmp_path_factory.mktemp("api_broken")
    shard = data_dir / MARKER / "winnow"
    shard.mkdir(parents=True)
    (shard / CONFIG_FILE).write_text("{not json")
    (data_dir / "images").mkdir()
    env = {"WINNOW_SERVE__API_KEYS": KEY, "WINNOW_INDEX__PATH": str(data_dir / MARKER)}
    with running_api(data_dir, env=env, ready=False) as server:
        yield server


def test_readyz_with_a_broken_index_gives_no_exception_text(broken_api: ApiServer) -> None:
    from winnow.services.process import wait_until

    with broken_api.client(timeout=10) as http:

        def failed() -> bool:  # the model loads after the index: wait for both to settle
            body = http.get("/readyz").json()
            return body["detail"]["missing"] == ["index"]

        assert wait_until(failed, timeout_s=240)
        ready = http.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"]
    assert ready.json()["detail"] == {
        "missing": ["index"],
        "errors": {"index": "failed to load; the server log has the reason"},
    }
    for leak in (MARKER, "Qdrant", "deserialize", "Error", "Traceback", "/"):
        assert leak not in ready.text, leak
    assert MARKER in broken_api.log()  # the operator still learns why, from the log


def test_search_on_a_broken_index_is_a_plain_503(broken_api: ApiServer) -> None:
    with broken_api.client(KEY, timeout=10) as http:
        response = http.get("/v1/search/task/1")
    assert response.status_code == 503 and response.json()["kind"] == "unavailable"
    assert MARKER not in response.text


def test_metrics_need_a_key_by_default(api: ApiServer) -> None:
    with api.client(timeout=10) as anonymous:
        assert anonymous.get("/metrics").status_code == 401
        assert anonymous.get("/metrics", headers={"X-API-Key": "nope"}).status_code == 401
        bearer = anonymous.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
    with api.client(KEY, timeout=10) as keyed:
        metrics = keyed.get("/metrics")
    assert bearer.status_code == 200  # what a Prometheus scrape config can send
    assert metrics.status_code == 200 and "winnow_api_requests_total" in metrics.text


def test_docs_and_schema_are_public_and_data_is_not(api: ApiServer) -> None:
    with api.client(timeout=10) as anonymous:
        schema = anonymous.get("/openapi.json")
        docs = anonymous.get("/docs")
        for path in ("/v1/stats", "/v1/samples", "/v1/tasks/1/thumbnail", "/v2/unknown"):
            assert anonymous.get(path).status_code == 401, path
        ready = anonymous.get("/readyz")
    assert schema.status_code == 200 and "/v1/search/image" in schema.json()["paths"]
    assert docs.status_code == 200
    assert ready.status_code == 200 and ready.json()["detail"]["errors"] == {}
