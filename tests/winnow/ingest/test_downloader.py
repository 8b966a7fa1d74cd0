"""The downloader against a real HTTP server on 127.0.0.1: bounded concurrency, per-host
rate limit, sniffing, dedup on arrival, and the core's SSRF guard, size limit and retries."""

from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from winnow.config import ImageIOSettings
from winnow.ingest.download import Downloader, DownloadPolicy, HostRateLimiter

LOOPBACK = ImageIOSettings(allowed_hosts=["127.0.0.1"], http_retries=2, http_timeout_s=5)
NO_LIMIT = DownloadPolicy(concurrency=4, per_host_rate=None)


@pytest.fixture(scope="module")
def photos(real_images_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(real_images_dir.iterdir())}


def _by_url(results):
    return {r.url: r for r in results}


def test_downloads_real_images_with_sha_and_sniffed_format(web_server, photos) -> None:
    urls = {name: web_server.serve(f"/img/{name}", data) for name, data in photos.items()}
    with Downloader(LOOPBACK, NO_LIMIT) as downloader:
        got = _by_url(downloader.download_all(urls.values()))

    assert set(got) == set(urls.values())
    for name, url in urls.items():
        result = got[url]
        assert result.ok, result.reason
        assert result.data == photos[name]
        assert result.sha256 == hashlib.sha256(photos[name]).hexdigest()
    assert got[urls["coffee.jpg"]].format == "JPEG"
    assert got[urls["chelsea.webp"]].format == "WEBP"
    assert got[urls["coffee.tif"]].format == "TIFF"


def test_same_content_is_kept_once_and_known_content_is_a_duplicate(web_server, photos) -> None:
    coffee, chelsea = photos["coffee.jpg"], photos["chelsea.png"]
    first = web_server.serve("/a.jpg", coffee)
    second = web_server.serve("/copy-of-a.jpg", coffee)
    known = web_server.serve("/chelsea.png", chelsea)
    chelsea_sha = hashlib.sha256(chelsea).hexdigest()
    with Downloader(LOOPBACK, NO_LIMIT, known={chelsea_sha: "task 7"}) as downloader:
        got = _by_url(downloader.download_all([first, second, known]))

    kinds = sorted((got[first].error_kind or "ok", got[second].error_kind or "ok"))
    assert kinds == ["duplicate", "ok"]
    dup = got[first] if got[first].error_kind else got[second]
    assert dup.data is None and dup.duplicate_of in (first, second) and dup.duplicate_of != dup.url
    assert got[known].error_kind == "duplicate" and got[known].duplicate_of == "task 7"


def test_bad_responses_are_reported_never_raised(web_server, photos) -> None:
    html = web_server.serve(
        "/page.jpg", b"<!DOCTYPE html><html>cookie wall</html>", content_type="text/html"
    )
    private = web_server.redirect("/to-private.jpg", "http://10.0.0.1/x.jpg")
    metadata = web_server.redirect("/to-metadata.jpg", "http://169.254.169.254/latest/")
    missing = f"{web_server.origin}/missing.jpg"
    empty = web_server.serve("/empty.jpg", b"")
    with Downloader(LOOPBACK, NO_LIMIT) as downloader:
        got = _by_url(
            downloader.download_all(
                [html, private, metadata, missing, empty, "http://bad host/x.jpg"]
            )
        )

    assert got[html].error_kind == "not_an_image" and "HTML page" in got[html].reason
    assert got[private].error_kind == "blocked_source"
    assert "10.0.0.1" in got[private].reason and "private" in got[private].reason
    assert got[metadata].error_kind == "blocked_source" and "link-local" in got[metadata].reason
    assert got[missing].error_kind == "fetch_failed" and "404" in got[missing].reason
    assert got[empty].error_kind == "zero_byte"
    assert got["http://bad host/x.jpg"].error_kind in ("blocked_source", "fetch_failed")
    assert all(r.data is None for r in got.values())


def test_huge_bodies_are_refused_by_length_or_cut_off(web_server) -> None:
    io = LOOPBACK.model_copy(update={"max_bytes": 1_000_000})
    declared = web_server.serve("/declared.jpg", b"\xff\xd8\xff" + b"\x00" * 1_500_000)
    streamed = web_server.stream("/streamed.jpg", 50_000_000)
    with Downloader(io, NO_LIMIT) as downloader:
        started = time.perf_counter()
        got = _by_url(downloader.download_all([declared, streamed]))
        elapsed = time.perf_counter() - started

    assert got[declared].error_kind == "too_large" and "Content-Length" in got[declared].reason
    assert got[streamed].error_kind == "too_large" and "aborted" in got[streamed].reason
    assert elapsed < 5  # the 50 MB stream was not read to the end


def test_transient_errors_are_retried(web_server, photos) -> None:
    calls = {"n": 0}

    def flaky(handler: BaseHTTPRequestHandler) -> None:
        calls["n"] += 1
        status, body = (503, b"busy") if calls["n"] == 1 else (200, photos["coffee.jpg"])
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    web_server.routes["/flaky.jpg"] = flaky
    with Downloader(LOOPBACK, NO_LIMIT) as downloader:
        result = downloader.download(f"{web_server.origin}/flaky.jpg")
    assert result.ok and result.data == photos["coffee.jpg"]
    assert web_server.hits["/flaky.jpg"] == 2


def test_concurrency_is_bounded(web_server, photos) -> None:
    state = {"active": 0, "peak": 0}
    lock = threading.Lock()

    def slow(handler: BaseHTTPRequestHandler) -> None:
        with lock:
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
        time.sleep(0.15)
        with lock:  # before answering: the client may start its next request once it reads
            state["active"] -= 1
        body = photos["coffee.jpg"] + handler.path.encode()  # distinct content per URL
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    for i in range(12):
        web_server.routes[f"/slow/{i}.jpg"] = slow
    urls = [f"{web_server.origin}/slow/{i}.jpg" for i in range(12)]
    with Downloader(LOOPBACK, DownloadPolicy(concurrency=3, per_host_rate=None)) as downloader:
        results = list(downloader.download_all(urls))
    assert all(r.ok for r in results) and len(results) == 12
    assert 2 <= state["peak"] <= 3


def test_requests_to_one_host_are_spaced_by_the_rate_limit(web_server, photos) -> None:
    urls = [web_server.serve(f"/r{i}.jpg", photos["coffee.jpg"] + bytes([i])) for i in range(5)]
    policy = DownloadPolicy(concurrency=5, per_host_rate=10.0)
    with Downloader(LOOPBACK, policy) as downloader:
        started = time.perf_counter()
        results = list(downloader.download_all(urls))
        elapsed = time.perf_counter() - started
    assert all(r.ok for r in results)
    assert elapsed >= 0.4  # five starts at least 0.1 s apart, even with five threads


@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.floats(0, 0.5)), max_size=40), st.floats(0.5, 50)
)
def test_rate_limiter_slots_are_spaced_and_an_idle_host_does_not_wait(calls, rate) -> None:
    now = [0.0]
    limiter = HostRateLimiter(rate, clock=lambda: now[0], sleep=lambda s: None)
    starts: dict[str, list[float]] = {}
    last_slot_end: dict[str, float] = {}
    for host, gap in calls:
        now[0] += gap
        delay = limiter.reserve(host)
        assert delay >= 0
        if now[0] >= last_slot_end.get(host, float("-inf")):
            assert delay == 0
        starts.setdefault(host, []).append(now[0] + delay)
        last_slot_end[host] = now[0] + delay + limiter.interval
    for times in starts.values():
        assert all(b - a >= limiter.interval - 1e-9 for a, b in zip(times, times[1:], strict=False))


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        DownloadPolicy(concurrency=0)
    with pytest.raises(ValueError, match="per_host_rate"):
        DownloadPolicy(per_host_rate=0)
