"""A real ``winnow backend`` process for the attacks on the ML backend, and a hostile host.

The backend runs the offline ImageNet zero-shot model in its own process group on
127.0.0.1, with only the ``WINNOW_*`` variables a test gives it. :class:`RecordingServer`
is a web server on 127.0.0.1 that answers every path with a real JPEG and remembers each
request's path and ``Authorization`` header: a stand-in for Label Studio, or for a host an
attacker names.
"""

from __future__ import annotations

import base64
import io
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from PIL import Image
from skimage import data

from winnow.services.process import (
    free_port,
    http_status,
    serving_in_thread,
    spawn,
    stop_process,
    wait_until,
)

LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image">
    <Choice value="cat"/><Choice value="espresso"/>
  </Choices>
</View>"""


def photo_jpeg(name: str = "chelsea", *, comment: bytes = b"") -> bytes:
    """A real photo as JPEG bytes; ``comment`` is stored in the file (a marker to look for)."""
    buffer = io.BytesIO()
    Image.fromarray(getattr(data, name)()).convert("RGB").save(
        buffer, format="JPEG", quality=90, comment=comment
    )
    return buffer.getvalue()


@dataclass
class Backend:
    port: int
    log_path: Path
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = f"http://127.0.0.1:{self.port}"

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, trust_env=False, timeout=120, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_backend(data_dir: Path, env: dict[str, str] | None = None) -> Iterator[Backend]:
    """``winnow backend`` on a free loopback port over ``data_dir``; waits for /health."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("WINNOW_")}
    child_env.update(
        WINNOW_DATA_DIR=str(data_dir),
        WINNOW_EMBEDDING__KIND="backbone",
        WINNOW_BACKEND__SYNC_MODEL_VERSION="false",
        WINNOW_TRAINING__ENABLED="false",
        **(env or {}),
    )
    command = [sys.executable, "-m", "winnow", "backend", "--port", str(port)]
    log_path = data_dir / f"backend-{port}.log"
    proc = spawn(command, env=child_env, log_path=log_path, cwd=data_dir)
    backend = Backend(port, log_path)

    def alive() -> None:
        if proc.poll() is not None:
            raise RuntimeError(f"winnow backend exited:\n{backend.log()[-3000:]}")

    auth_headers = {}
    if "WINNOW_BACKEND__BASIC_AUTH_USER" in child_env:
        pair = (
            f"{child_env['WINNOW_BACKEND__BASIC_AUTH_USER']}:"
            f"{child_env['WINNOW_BACKEND__BASIC_AUTH_PASSWORD']}"
        )
        auth_headers = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    try:
        if not wait_until(
            lambda: http_status(backend.url + "/health", headers=auth_headers) == 200,
            timeout_s=240,
            alive=alive,
        ):
            raise RuntimeError(f"winnow backend not ready:\n{backend.log()[-3000:]}")
        yield backend
    finally:
        stop_process(proc)


class RecordingServer(ThreadingHTTPServer):
    """Answers every GET with ``body`` (a JPEG), or a 302 for a path in ``redirects``, and
    records ``(path, Authorization)``."""

    daemon_threads = True

    def __init__(self, body: bytes) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.body = body
        self.requests: list[tuple[str, str | None]] = []
        self.redirects: dict[str, str] = {}
        self.lock = threading.Lock()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RecordingHandler(BaseHTTPRequestHandler):
    server: RecordingServer

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.requests.append((self.path, self.headers.get("Authorization")))
        if self.path in self.server.redirects:
            self.send_response(302)
            self.send_header("Location", self.server.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def recording_server(body: bytes) -> Iterator[RecordingServer]:
    with serving_in_thread(RecordingServer(body)) as server:
        yield server
