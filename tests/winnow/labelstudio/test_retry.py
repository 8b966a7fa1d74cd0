"""The one Label Studio retry policy: what is retried, how often, and how clearly it gives up.

Cases talk to a real HTTP server on 127.0.0.1 that plays a script of answers (errors,
dropped connections, slow answers, then success) through the real SDK client."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from label_studio_sdk import LabelStudio
from pydantic import SecretStr

from winnow.config import LabelStudioSettings
from winnow.errors import LabelStudioError
from winnow.labelstudio.calls import ls_call, ls_items
from winnow.labelstudio.client import connect
from winnow.labelstudio.retry import RetryTransport, retry_after_s
from winnow.services.process import serving_in_thread

PROJECT = {"id": 3, "title": "p", "label_config": "<View/>"}
WAIT = 0.2  # Retry-After the scripted server asks for


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | None = None
    drop: bool = False  # close the connection without answering
    delay_s: float = 0.0


def busy(status: int = 503, **headers: str) -> Answer:
    return Answer(status, headers, {"detail": "busy"})


class ScriptedServer(ThreadingHTTPServer):
    """Answers requests in the order of ``script`` (the last answer repeats); records them."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[Answer] = [Answer()]
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_answer(self, method: str, path: str) -> Answer:
        with self.lock:
            self.seen.append((method, path))
            return self.script[min(len(self.seen), len(self.script)) - 1]

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a slow answer closed its end: expected here


class _Handler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answer = self.server.next_answer(self.command, self.path)
        time.sleep(answer.delay_s)
        if answer.drop:
            self.close_connection = True
            return
        body = answer.body if answer.body is not None else PROJECT
        data = json.dumps(body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with serving_in_thread(ScriptedServer()) as srv:
        yield srv


def sdk(url: str, retries: int, *, timeout_s: float = 10.0, max_wait_s: float = 8.0) -> LabelStudio:
    """The SDK client as ``connect`` builds it, with waits short enough for a test."""
    transport = RetryTransport(retries, min_wait_s=0.01, max_wait_s=max_wait_s)
    http = httpx.Client(transport=transport, timeout=timeout_s)
    return LabelStudio(base_url=url, api_key="k", max_retries=0, httpx_client=http)


def methods(server: ScriptedServer) -> list[str]:
    return [method for method, _ in server.seen]


def test_failures_are_retried_until_an_answer_comes(server: ScriptedServer) -> None:
    server.script = [busy(503), Answer(drop=True), busy(502), Answer()]
    assert ls_call("read project 3", sdk(server.url, 3).projects.get, id=3).id == 3
    assert methods(server) == ["GET"] * 4


def test_a_server_that_stays_down_gives_one_clear_error(server: ScriptedServer) -> None:
    server.script = [busy(502)]
    with pytest.raises(LabelStudioError) as caught:
        ls_call("read project 3", sdk(server.url, 2).projects.get, id=3)
    message = str(caught.value)
    assert message.startswith("Label Studio refused to read project 3 (HTTP 502): busy")
    assert message.endswith("(gave up after 3 attempts)")
    assert methods(server) == ["GET"] * 3


def test_a_bad_request_is_never_retried_and_says_what_was_wrong(server: ScriptedServer) -> None:
    errors = {"label_config": ["not valid XML"]}
    server.script = [Answer(400, body={"validation_errors": errors})]
    ls = sdk(server.url, 5)
    with pytest.raises(LabelStudioError) as caught:
        ls_call("update project 3", ls.projects.update, id=3, label_config="<View")
    assert str(caught.value) == (
        "Label Studio refused to update project 3 (HTTP 400): label_config: not valid XML"
    )
    assert methods(server) == ["PATCH"]


def test_patch_is_retried_like_any_idempotent_method(server: ScriptedServer) -> None:
    server.script = [busy(500), busy(429), Answer()]
    ls = sdk(server.url, 3)
    assert ls_call("update project 3", ls.projects.update, id=3, title="q").title == "p"
    assert methods(server) == ["PATCH"] * 3


@pytest.mark.parametrize(
    ("first", "error"),
    [
        (busy(500), r"refused to create project \(HTTP 500\): busy$"),
        (busy(503), r"refused to create project \(HTTP 503\): busy$"),  # no Retry-After
        (Answer(drop=True), r"^Label Studio call failed \(create project\): "),
    ],
    ids=["500", "503 without Retry-After", "dropped connection"],
)
def test_post_is_not_repeated_once_it_may_have_been_processed(
    server: ScriptedServer, first: Answer, error: str
) -> None:
    server.script = [first, Answer(201)]
    with pytest.raises(LabelStudioError, match=error):
        ls_call("create project", sdk(server.url, 3).projects.create, title="x")
    assert methods(server) == ["POST"]


def test_post_is_retried_when_the_server_asks_for_it(server: ScriptedServer) -> None:
    server.script = [busy(503, **{"Retry-After": "0"}), busy(429, **{"Retry-After": "0"})]
    server.script.append(Answer(201))
    assert ls_call("create project", sdk(server.url, 3).projects.create, title="x").id == 3
    assert methods(server) == ["POST"] * 3


def test_retry_after_is_honoured_and_capped(server: ScriptedServer) -> None:
    server.script = [busy(429, **{"Retry-After": str(WAIT)}), Answer()]
    started = time.monotonic()
    sdk(server.url, 1).projects.get(id=3)
    assert time.monotonic() - started >= WAIT
    server.seen.clear()
    server.script = [busy(429, **{"Retry-After": "3600"}), Answer()]
    started = time.monotonic()
    sdk(server.url, 1, max_wait_s=0.05).projects.get(id=3)
    assert time.monotonic() - started < 5 and len(server.seen) == 2


def test_retry_after_reads_seconds_and_http_dates() -> None:
    def after(value: str) -> float | None:
        return retry_after_s(httpx.Response(503, headers={"Retry-After": value}))

    assert after("7") == 7.0
    soon = format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30), usegmt=True)
    assert 25 <= (after(soon) or 0) <= 30
    assert after("Mon, 01 Jan 2001 00:00:00 GMT") == 0.0
    assert after("soon") is None
    assert retry_after_s(httpx.Response(503)) is None


def test_a_failure_on_a_later_page_is_worded_like_the_first(server: ScriptedServer) -> None:
    server.script = [Answer(body={"count": 2, "results": [PROJECT]}), busy(500)]
    with pytest.raises(
        LabelStudioError, match=r"^Label Studio refused to list projects \(HTTP 500"
    ):
        list(ls_items("list projects", sdk(server.url, 0).projects.list, page_size=1))
    assert [path.split("?")[0] for _, path in server.seen] == ["/api/projects/"] * 2


def test_a_read_timeout_is_retried_for_get_but_not_for_post(server: ScriptedServer) -> None:
    server.script = [Answer(delay_s=1.0), Answer()]
    assert sdk(server.url, 2, timeout_s=0.3).projects.get(id=3).id == 3
    assert methods(server) == ["GET"] * 2
    server.seen.clear()
    with pytest.raises(LabelStudioError, match="create project"):
        ls_call("create project", sdk(server.url, 2, timeout_s=0.3).projects.create, title="x")
    assert methods(server) == ["POST"]


def test_a_request_that_never_left_is_retried_even_for_post() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(LabelStudioError) as caught:
        ls_call("create project", sdk(url, 2).projects.create, title="x")
    message = str(caught.value)
    assert message.startswith("Label Studio call failed (create project): ")
    assert message.endswith("(gave up after 3 attempts)")


def _settings(url: str, retries: int = 3) -> LabelStudioSettings:
    return LabelStudioSettings(url=url, api_key=SecretStr("k" * 40), retries=retries)


def test_clients_from_connect_go_through_the_policy(server: ScriptedServer) -> None:
    server.script = [busy(503, **{"Retry-After": "0"})] * 2 + [Answer()]
    ls = connect(_settings(server.url), check=False)
    assert ls.projects.get(id=3).title == "p"
    assert server.seen == [("GET", "/api/projects/3/")] * 3
    server.seen.clear()
    server.script = [busy(503, **{"Retry-After": "0"})]
    with pytest.raises(LabelStudioError, match=r"HTTP 503\): busy \(gave up after 2 attempts\)"):
        ls_call(
            "read project 3",
            connect(_settings(server.url, 9), check=False, retries=1).projects.get,
            id=3,
        )
    assert len(server.seen) == 2  # the SDK's own retries are off: no 2 x 3 attempts


def test_the_key_check_in_connect_goes_through_the_policy(server: ScriptedServer) -> None:
    server.script = [busy(503, **{"Retry-After": "0"}), Answer(body={"results": []})]
    connect(_settings(server.url))
    assert methods(server) == ["GET", "GET"]
    server.seen.clear()
    server.script = [Answer(401, body={"detail": "Invalid token."})]
    with pytest.raises(LabelStudioError, match=r"refused the API key \(HTTP 401\)"):
        connect(_settings(server.url))
    assert methods(server) == ["GET"]
