"""Issue 17, finding 11: a download has an overall deadline.

A server on 127.0.0.1 (allow-listed for the test, as the SSRF guard refuses loopback) drips
one byte just inside the read timeout, so no single read ever times out. The reader, and a
real ``winnow backend`` fetching the same URL for ``/predict``, stop at
``io.fetch_deadline_s`` with a clear error, with or without a ``Content-Length``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from backend_process import LABEL_CONFIG, running_backend

from winnow.config import ImageIOSettings
from winnow.errors import FetchError
from winnow.imageio import ImageReader

pytestmark = pytest.mark.integration

READ_TIMEOUT_S = 1.0
DRIP_EVERY_S = 0.9  # just inside the read timeout, as 1 byte per 19 s is inside 20 s
DEADLINE_S = 3.0
DRIP_FOR_S = 20.0  # then the server gives up: without a deadline the fetch takes this long


class DripServer:
    """Accepts connections on 127.0.0.1 and answers each with headers, then one byte per
    ``DRIP_EVERY_S``; ``/sized`` declares a Content-Length, other paths do not."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.origin = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            request = conn.recv(65536)
            sized = request.split(b" ", 2)[1] == b"/sized"
            head = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\n"
            head += b"Content-Length: 100000\r\n" if sized else b"Connection: close\r\n"
            started = time.monotonic()
            try:
                conn.sendall(head + b"\r\n\xff")
                while not self.stop.is_set() and time.monotonic() - started < DRIP_FOR_S:
                    time.sleep(DRIP_EVERY_S)
                    conn.sendall(b"\xd8")
            except OSError:  # the client hung up: what the deadline should make it do
                return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(scope="module")
def drip() -> Iterator[DripServer]:
    server = DripServer()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize("path", ["/sized", "/unsized"])
def test_a_dripping_server_is_cut_at_the_deadline(drip: DripServer, path: str) -> None:
    io = ImageIOSettings(
        allowed_hosts=["127.0.0.1"],
        http_timeout_s=READ_TIMEOUT_S,
        http_retries=2,
        fetch_deadline_s=DEADLINE_S,
    )
    started = time.monotonic()
    with ImageReader(io) as reader, pytest.raises(FetchError) as cut:
        reader.read(drip.origin + path)
    elapsed = time.monotonic() - started

    assert DEADLINE_S <= elapsed < DEADLINE_S + 1.0
    assert "fetch_deadline_s" in cut.value.reason
    assert cut.value.source == drip.origin + path


def test_the_backend_answers_predict_when_an_image_server_drips(
    drip: DripServer, tmp_path: Path
) -> None:
    env = {
        "WINNOW_IO__ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
        "WINNOW_IO__HTTP_TIMEOUT_S": str(READ_TIMEOUT_S),
        "WINNOW_IO__FETCH_DEADLINE_S": str(DEADLINE_S),
    }
    task = {"id": 1, "data": {"image": drip.origin + "/sized"}}
    with running_backend(tmp_path / "data", env) as backend, backend.client() as http:
        started = time.monotonic()
        response = http.post("/predict", json={"tasks": [task], "label_config": LABEL_CONFIG})
        elapsed = time.monotonic() - started

    assert response.status_code == 200
    error = response.json()["results"][0]["error"]
    assert error.startswith("fetch_failed:") and "fetch_deadline_s" in error
    assert elapsed < DEADLINE_S + 3.0
