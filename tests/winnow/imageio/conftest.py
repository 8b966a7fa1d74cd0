"""A real HTTP server on 127.0.0.1 whose routes each test defines, and that records requests."""

from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from winnow.services.process import serving_in_thread

Route = Callable[[BaseHTTPRequestHandler], None]


def send(
    handler: BaseHTTPRequestHandler,
    body: bytes,
    *,
    status: int = 200,
    content_type: str = "image/jpeg",
    headers: dict[str, str] | None = None,
) -> None:
    """Write one complete response with a correct Content-Length."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(body)


class RecordingServer(ThreadingHTTPServer):
    """Serves ``routes`` (keyed by path with query, then path alone) and logs every request."""

    daemon_threads = True
    send = staticmethod(send)

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def origin(self) -> str:
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def serve(self, path: str, body: bytes) -> None:
        self.routes[path] = lambda handler: send(handler, body)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = lambda handler: send(
            handler, b"", status=status, headers={"Location": location}
        )

    def hits(self, path: str) -> list[dict[str, str]]:
        """Headers (lower-cased names) of each request to ``path``, in order."""
        with self.lock:
            return [headers for got, headers in self.requests if got == path]


class _Handler(BaseHTTPRequestHandler):
    server: RecordingServer

    def do_GET(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        with self.server.lock:
            self.server.requests.append((self.path, headers))
        routes = self.server.routes
        route = routes.get(self.path) or routes.get(self.path.split("?", 1)[0])
        if route is None:
            send(self, b"not found", status=404, content_type="text/plain")
        else:
            route(self)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[Callable[..., RecordingServer]]:
    """Factory: each call starts one more server on a free loopback port.

    ``start(tls=(cert_file, key_file))`` serves HTTPS with that certificate.
    """

    def start(tls: tuple[str, str] | None = None) -> RecordingServer:
        server = RecordingServer()  # bound and listening once constructed: ready now
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        return stack.enter_context(serving_in_thread(server))

    with contextlib.ExitStack() as stack:
        yield start
