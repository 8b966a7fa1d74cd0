"""ImageReader over HTTP against real servers on 127.0.0.1: SSRF guard on every hop, size
limits, retries, and the Label Studio key reaching Label Studio only."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from winnow import __version__
from winnow.config import ImageIOSettings, LabelStudioSettings
from winnow.errors import BlockedSourceError, FetchError, TooLargeError
from winnow.imageio import ImageReader
from winnow.services import free_port

LS_KEY = "0123456789abcdef0123456789abcdef01234567"
LOOPBACK_OK = ImageIOSettings(allowed_hosts=["127.0.0.1"], http_retries=2)


@pytest.fixture(scope="module")
def coffee(real_images_dir: Path) -> bytes:
    return (real_images_dir / "coffee.jpg").read_bytes()


@pytest.fixture
def images(http_server, coffee: bytes):
    server = http_server()
    server.serve("/coffee.jpg", coffee)
    return server


def _read(url: str, io: ImageIOSettings = LOOPBACK_OK, **kwargs) -> bytes:
    with ImageReader(io, **kwargs) as reader:
        return reader.read(url)


def test_loopback_is_blocked_by_default_and_nothing_is_sent(images):
    with pytest.raises(BlockedSourceError, match="loopback"):
        _read(f"{images.origin}/coffee.jpg", ImageIOSettings())
    assert images.requests == []


@pytest.mark.parametrize("allowed", ["127.0.0.1", "127.0.0.0/8"])
def test_allowed_loopback_downloads_the_exact_bytes(images, coffee, allowed):
    got = _read(f"{images.origin}/coffee.jpg", ImageIOSettings(allowed_hosts=[allowed]))

    assert got == coffee
    (headers,) = images.hits("/coffee.jpg")
    assert headers["user-agent"] == f"winnow/{__version__}"
    assert "authorization" not in headers


def test_relative_redirect_is_followed(images, coffee):
    images.redirect("/old", "/coffee.jpg", 301)

    assert _read(f"{images.origin}/old") == coffee


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://10.0.0.5/internal.jpg",
        "http://[::1]/x.jpg",
        "http://0xa000005/x.jpg",  # 10.0.0.5 spelled in hex
        "http://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, IPv4-mapped
        "file:///etc/passwd",
    ],
)
def test_redirect_to_a_blocked_target_is_refused(images, target):
    images.redirect("/bounce", target)
    url = f"{images.origin}/bounce"

    with pytest.raises(BlockedSourceError) as info:
        _read(url)

    assert info.value.source == url
    assert info.value.reason.startswith(target)  # names the refused hop


def test_redirect_loop_stops_after_five_hops(images):
    images.redirect("/loop", "/loop")

    with pytest.raises(FetchError, match="more than 5 redirects"):
        _read(f"{images.origin}/loop", ImageIOSettings(allowed_hosts=["127.0.0.1"]))
    assert len(images.hits("/loop")) == 6


def test_declared_content_length_over_the_limit_is_refused_before_the_body(images):
    def lying_route(handler):
        handler.send_response(200)
        handler.send_header("Content-Length", str(50_000_000))
        handler.end_headers()
        handler.wfile.write(b"\xff\xd8\xff" + b"\0" * 1000)  # then the server just closes

    images.routes["/declared"] = lying_route

    io = ImageIOSettings(allowed_hosts=["127.0.0.1"], max_bytes=1_000_000)

    with pytest.raises(TooLargeError, match="Content-Length 50000000"):
        _read(f"{images.origin}/declared", io)


def test_undeclared_huge_body_is_aborted_while_streaming(images):
    total = 64 * 1024 * 1024
    sent = {"bytes": 0}
    finished = threading.Event()

    def endless_route(handler):
        handler.send_response(200)
        handler.end_headers()  # HTTP/1.0, no Content-Length: the body ends when we close
        chunk = b"\0" * 65536
        try:
            while sent["bytes"] < total:
                handler.wfile.write(chunk)
                sent["bytes"] += len(chunk)
        except OSError:
            pass  # the client hung up, as it should
        finally:
            finished.set()

    images.routes["/endless"] = endless_route
    io = ImageIOSettings(allowed_hosts=["127.0.0.1"], max_bytes=1_000_000)

    with pytest.raises(TooLargeError, match="max_bytes 1000000"):
        _read(f"{images.origin}/endless", io)
    assert finished.wait(10)
    assert sent["bytes"] < total / 2


def _flaky(status: int, failures: int, body: bytes):
    calls = {"n": 0}

    def route(handler):
        calls["n"] += 1
        if calls["n"] <= failures:
            handler.server.send(handler, b"try again", status=status, content_type="text/plain")
        else:
            handler.server.send(handler, body)

    return route


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_status_is_retried_then_succeeds(images, coffee, status):
    images.routes["/flaky"] = _flaky(status, failures=2, body=coffee)

    assert _read(f"{images.origin}/flaky") == coffee
    assert len(images.hits("/flaky")) == 3


def test_persistent_server_error_fails_after_all_attempts(images):
    images.routes["/down"] = _flaky(502, failures=99, body=b"")

    with pytest.raises(FetchError, match="HTTP 502") as info:
        _read(f"{images.origin}/down")
    assert len(images.hits("/down")) == LOOPBACK_OK.http_retries + 1
    assert not isinstance(info.value, BlockedSourceError)


@pytest.mark.parametrize("status", [404, 403, 401, 410])
def test_client_errors_are_not_retried(images, status):
    images.routes["/gone"] = _flaky(status, failures=99, body=b"")

    with pytest.raises(FetchError, match=f"HTTP {status}"):
        _read(f"{images.origin}/gone")
    assert len(images.hits("/gone")) == 1


def test_slow_server_times_out_and_is_retried(images, coffee):
    def slow_route(handler):
        time.sleep(1.0)
        handler.server.send(handler, coffee)

    images.routes["/slow"] = slow_route
    io = ImageIOSettings(allowed_hosts=["127.0.0.1"], http_timeout_s=0.2, http_retries=1)

    with pytest.raises(FetchError, match="timed out"):
        _read(f"{images.origin}/slow", io)
    assert len(images.hits("/slow")) == 2


def test_refused_connection_is_a_fetch_error():
    url = f"http://127.0.0.1:{free_port()}/nothing-listens-here.jpg"

    with pytest.raises(FetchError, match="ConnectError") as info:
        _read(url, ImageIOSettings(allowed_hosts=["127.0.0.1"], http_retries=1))
    assert not isinstance(info.value, BlockedSourceError)


def test_connection_goes_to_the_checked_address_not_a_second_lookup(images, coffee, monkeypatch):
    lookups = _rebinding_dns(monkeypatch, "images.test")

    got = _read(f"http://images.test:{images.port}/coffee.jpg", LOOPBACK_OK)

    assert got == coffee
    assert lookups == ["images.test"]
    (headers,) = images.hits("/coffee.jpg")
    assert headers["host"] == f"images.test:{images.port}"


def _rebinding_dns(monkeypatch, name: str) -> list[str]:
    """``name`` resolves to 127.0.0.1 once; any later lookup fails (a rebinding attacker
    would answer with an internal address instead)."""
    real_getaddrinfo = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        if host != name:
            return real_getaddrinfo(host, *args, **kwargs)
        lookups.append(host)
        if len(lookups) > 1:
            raise socket.gaierror(socket.EAI_NONAME, "rebinding: second answer refused")
        return real_getaddrinfo("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


@pytest.fixture
def self_signed(tmp_path: Path):
    """Factory: a self-signed certificate (cert_file, key_file) for one DNS name."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available")

    def make(name: str) -> tuple[str, str]:
        cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-subj",
                f"/CN={name}",
                "-addext",
                f"subjectAltName=DNS:{name}",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return str(cert), str(key)

    return make


def test_https_pins_the_address_and_still_verifies_the_certificate_name(
    http_server, self_signed, coffee, monkeypatch
):
    cert, key = self_signed("images.test")
    server = http_server(tls=(cert, key))
    server.serve("/coffee.jpg", coffee)
    lookups = _rebinding_dns(monkeypatch, "images.test")
    client = httpx.Client(verify=ssl.create_default_context(cafile=cert))

    with ImageReader(LOOPBACK_OK, http_client=client) as reader:
        got = reader.read(f"https://images.test:{server.port}/coffee.jpg")
    client.close()

    assert got == coffee
    assert lookups == ["images.test"]
    (headers,) = server.hits("/coffee.jpg")
    assert headers["host"] == f"images.test:{server.port}"


def test_https_certificate_for_another_name_is_rejected(http_server, self_signed, monkeypatch):
    cert, key = self_signed("other.test")
    server = http_server(tls=(cert, key))
    _rebinding_dns(monkeypatch, "images.test")
    client = httpx.Client(verify=ssl.create_default_context(cafile=cert))
    io = ImageIOSettings(allowed_hosts=["127.0.0.1"], http_retries=0)

    with ImageReader(io, http_client=client) as reader, pytest.raises(FetchError, match="ertif"):
        reader.read(f"https://images.test:{server.port}/coffee.jpg")
    client.close()
    assert server.requests == []


def test_passed_in_client_is_used_but_not_closed(images, coffee):
    client = httpx.Client()
    with ImageReader(LOOPBACK_OK, http_client=client) as reader:
        assert reader.read(f"{images.origin}/coffee.jpg") == coffee
    assert not client.is_closed
    client.close()


# -- Label Studio ----------------------------------------------------------------------


@pytest.fixture
def label_studio(http_server, coffee):
    server = http_server()
    server.serve("/data/upload/1/coffee.jpg", coffee)
    server.serve("/data/local-files/?d=photos/coffee.jpg", coffee)
    return server


def _ls(server) -> LabelStudioSettings:
    return LabelStudioSettings(url=server.origin, api_key=SecretStr(LS_KEY))


@pytest.mark.parametrize(
    "source", ["/data/upload/1/coffee.jpg", "/data/local-files/?d=photos/coffee.jpg"]
)
def test_relative_label_studio_url_gets_the_token_and_passes_the_guard(
    label_studio, coffee, source
):
    got = _read(source, ImageIOSettings(), label_studio=_ls(label_studio))

    assert got == coffee
    (headers,) = label_studio.hits(source)
    assert headers["authorization"] == f"Token {LS_KEY}"


def test_absolute_url_on_the_label_studio_origin_gets_the_token(label_studio, coffee):
    url = f"{label_studio.origin}/data/upload/1/coffee.jpg"

    assert _read(url, ImageIOSettings(), label_studio=_ls(label_studio)) == coffee
    (headers,) = label_studio.hits("/data/upload/1/coffee.jpg")
    assert headers["authorization"] == f"Token {LS_KEY}"


def test_other_host_never_gets_the_token_nor_the_label_studio_exemption(
    label_studio, images, coffee
):
    url = f"{images.origin}/coffee.jpg"  # same address, another port: not Label Studio
    with pytest.raises(BlockedSourceError):
        _read(url, ImageIOSettings(), label_studio=_ls(label_studio))

    assert _read(url, LOOPBACK_OK, label_studio=_ls(label_studio)) == coffee
    (headers,) = images.hits("/coffee.jpg")
    assert "authorization" not in headers


def test_redirect_from_label_studio_to_another_host_drops_the_token(label_studio, images, coffee):
    label_studio.redirect("/data/upload/2/moved.jpg", f"{images.origin}/coffee.jpg")

    got = _read("/data/upload/2/moved.jpg", LOOPBACK_OK, label_studio=_ls(label_studio))

    assert got == coffee
    assert label_studio.hits("/data/upload/2/moved.jpg")[0]["authorization"].endswith(LS_KEY)
    (headers,) = images.hits("/coffee.jpg")
    assert "authorization" not in headers


def test_redirect_from_label_studio_to_a_private_host_is_still_checked(label_studio, images):
    label_studio.redirect("/data/upload/3/moved.jpg", f"{images.origin}/coffee.jpg")

    with pytest.raises(BlockedSourceError):
        _read("/data/upload/3/moved.jpg", ImageIOSettings(), label_studio=_ls(label_studio))
    assert images.requests == []


def test_redirect_into_label_studio_from_elsewhere_carries_no_token(label_studio, images):
    images.redirect("/lure", f"{label_studio.origin}/data/upload/1/coffee.jpg")

    _read(f"{images.origin}/lure", LOOPBACK_OK, label_studio=_ls(label_studio))

    (headers,) = label_studio.hits("/data/upload/1/coffee.jpg")
    assert "authorization" not in headers
