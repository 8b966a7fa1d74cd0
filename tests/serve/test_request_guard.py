"""The request guard, the token bucket and the access settings, in-process.

The attacks themselves run against a real ``winnow serve`` in tests/security/; these pin the
pieces and every setting's variant, which a real process per variant would make slow.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from serve.app import create_app
from serve.guard import MULTIPART_OVERHEAD, body_limit
from serve.ratelimit import KeyRateLimiter, TokenBucket
from winnow.config import ServeSettings, Settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(2.0, 3, clock=clock)
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.take() == 1  # empty: one token comes back in 0.5 s, said as 1 s
    clock.now += 0.5
    assert bucket.take() == 0
    clock.now += 100  # refills no higher than the burst
    assert [bucket.take() for _ in range(4)] == [0, 0, 0, 1]


def test_a_slow_bucket_says_how_long_to_wait() -> None:
    clock = Clock()
    bucket = TokenBucket(0.1, 1, clock=clock)
    assert bucket.take() == 0
    assert bucket.take() == 10
    clock.now += 4
    assert bucket.take() == 6


def test_buckets_are_per_key_and_a_zero_rate_is_no_limit() -> None:
    limiter = KeyRateLimiter(2, 1.0, 1)
    assert limiter.retry_after(0) == 0 and limiter.retry_after(0) >= 1
    assert limiter.retry_after(1) == 0
    unlimited = KeyRateLimiter(2, 0.0, 1)
    assert all(unlimited.retry_after(0) == 0 for _ in range(100))


def test_the_body_limit_is_one_upload_and_its_framing() -> None:
    assert body_limit(ServeSettings(max_upload_bytes=1000)) == 1000 + MULTIPART_OVERHEAD


def _client(monkeypatch: pytest.MonkeyPatch, keys: str | None = "k1", **serve) -> TestClient:
    if keys:
        monkeypatch.setenv("WINNOW_SERVE__API_KEYS", keys)
    return TestClient(create_app(Settings(serve=serve), load=False))


def test_429_carries_retry_after_and_the_json_error_shape(monkeypatch) -> None:
    client = _client(monkeypatch, "k1,k2", rate_limit_per_s=0.5, rate_limit_burst=2)
    answers = [client.get("/healthz", headers={"X-API-Key": "k1"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3  # probes are never counted
    keyed = [client.get("/v1/stats", headers={"X-API-Key": "k1"}) for _ in range(3)]
    assert keyed[2].status_code == 429 and keyed[2].headers["Retry-After"] == "2"
    assert keyed[2].json()["kind"] == "rate_limited"
    assert client.get("/v1/stats", headers={"X-API-Key": "k2"}).status_code != 429


def test_a_wrong_key_is_401_before_the_length_is_looked_at(monkeypatch) -> None:
    client = _client(monkeypatch, max_upload_bytes=1000)
    big = {"file": ("a.jpg", b"\xff\xd8\xff" + b"\x00" * 200_000)}
    wrong = client.post("/v1/classify", files=big, headers={"X-API-Key": "k2"})
    assert wrong.status_code == 401 and wrong.json()["kind"] == "unauthorized"
    assert wrong.headers["connection"] == "close"
    right = client.post("/v1/classify", files=big, headers={"X-API-Key": "k1"})
    assert right.status_code == 413 and right.json()["kind"] == "too_large"


def test_a_streamed_body_is_cut_at_the_limit_with_the_json_shape(monkeypatch) -> None:
    """No Content-Length (chunked): counted while read. The test client buffers the body, so
    how little is read is measured against a real server (tests/security)."""
    client = _client(monkeypatch, max_upload_bytes=1000)

    def body():
        for _ in range(100):
            yield b"\x00" * 10_000

    response = client.post(
        "/v1/classify",
        content=body(),
        headers={"X-API-Key": "k1", "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413 and response.json()["kind"] == "too_large"


def test_a_bad_content_length_is_400(monkeypatch) -> None:
    client = _client(monkeypatch, keys=None)
    response = client.post("/v1/recommend", content=b"{}", headers={"Content-Length": "12x"})
    assert response.status_code == 400 and response.json()["kind"] == "invalid_request"


@pytest.mark.parametrize(
    ("access", "anonymous", "keyed"),
    [("public", 200, 200), ("keyed", 401, 200), ("off", 401, 404)],
)
def test_docs_access(monkeypatch, access: str, anonymous: int, keyed: int) -> None:
    client = _client(monkeypatch, docs_access=access)
    for path in ("/docs", "/openapi.json"):
        assert client.get(path).status_code == anonymous
        assert client.get(path, headers={"X-API-Key": "k1"}).status_code == keyed


def test_metrics_access(monkeypatch) -> None:
    public = _client(monkeypatch, metrics_access="public")
    assert public.get("/metrics").status_code == 200
    # the test client's address is "testclient", not loopback: refused even with a key
    loopback = _client(monkeypatch, metrics_access="loopback")
    refused = loopback.get("/metrics", headers={"X-API-Key": "k1"})
    assert refused.status_code == 403 and refused.json()["kind"] == "forbidden"
    local = TestClient(loopback.app, client=("127.0.0.1", 50000))
    assert local.get("/metrics").status_code == 200


def test_an_open_api_has_no_rate_limit_and_no_key_check(monkeypatch) -> None:
    client = _client(monkeypatch, keys=None, rate_limit_per_s=0.1, rate_limit_burst=1)
    statuses = {client.get("/v1/stats").status_code for _ in range(5)}
    assert statuses == {503}  # no index loaded; never 401 or 429


def test_cors_preflight_needs_no_key(monkeypatch) -> None:
    client = _client(monkeypatch, cors_origins=["http://ui.example"])
    preflight = client.options(
        "/v1/stats",
        headers={"Origin": "http://ui.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    refused = client.get("/v1/stats", headers={"Origin": "http://ui.example"})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "http://ui.example"
