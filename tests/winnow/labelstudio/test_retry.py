"""The one Label Studio retry policy: what is retried, how often, and how clearly it gives up.

Most cases put an httpx mock transport under the real SDK client (the network boundary); the
last one goes through ``connect`` to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from label_studio_sdk import LabelStudio
from pydantic import SecretStr

from winnow.config import LabelStudioSettings
from winnow.errors import LabelStudioError
from winnow.labelstudio.calls import ls_call
from winnow.labelstudio.client import connect
from winnow.labelstudio.retry import RetryTransport

PROJECT = {"id": 3, "title": "p", "label_config": "<View/>"}


def _client(answers: list, retries: int) -> tuple[LabelStudio, list[str]]:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        answer = answers[min(len(calls), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        body = PROJECT if status < 300 else {"detail": "boom"}
        return httpx.Response(status, json=body, headers=headers)

    transport = RetryTransport(retries, inner=httpx.MockTransport(handler), min_wait_s=0.001)
    http = httpx.Client(transport=transport)
    return LabelStudio(
        base_url="http://ls.test", api_key="k", max_retries=0, httpx_client=http
    ), calls


def test_5xx_and_unsent_requests_are_retried_then_succeed() -> None:
    ls, calls = _client([503, httpx.ConnectError("refused"), 200], retries=3)
    assert ls_call("read project 3", ls.projects.get, id=3).id == 3
    assert len(calls) == 3


def test_a_server_that_stays_down_gives_one_clear_error() -> None:
    ls, calls = _client([502], retries=2)
    with pytest.raises(LabelStudioError, match=r"read project 3.*HTTP 502.*boom.*3 attempts"):
        ls_call("read project 3", ls.projects.get, id=3)
    assert calls == ["GET"] * 3


def test_client_errors_are_never_retried() -> None:
    ls, calls = _client([404], retries=5)
    with pytest.raises(LabelStudioError, match="HTTP 404") as caught:
        ls_call("read project 3", ls.projects.get, id=3)
    assert len(calls) == 1 and "attempts" not in str(caught.value)


def test_post_is_not_repeated_after_a_500_but_is_after_a_429() -> None:
    ls, calls = _client([500], retries=3)
    with pytest.raises(LabelStudioError, match="HTTP 500"):
        ls_call("create project", ls.projects.create, title="x")
    assert calls == ["POST"]
    ls, calls = _client([(429, {"Retry-After": "0"}), 201], retries=3)
    assert ls_call("create project", ls.projects.create, title="x").id == 3
    assert calls == ["POST", "POST"]


def test_a_dead_connection_names_the_attempts() -> None:
    ls, calls = _client([httpx.ConnectError("refused")], retries=2)
    with pytest.raises(LabelStudioError, match="refused.*gave up after 3 attempts"):
        ls_call("read project 3", ls.projects.get, id=3)
    assert len(calls) == 3


def test_connect_builds_clients_that_retry_against_a_real_server() -> None:
    seen: list[str] = []

    class Flaky(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            status = 503 if len(seen) <= 2 else 200
            body = json.dumps(PROJECT if status == 200 else {"detail": "busy"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        settings = LabelStudioSettings(url=url, api_key=SecretStr("k" * 40), retries=3)
        ls = connect(settings, check=False)
        assert ls.projects.get(id=3).title == "p"
        assert seen == ["/api/projects/3/"] * 3
        seen.clear()
        with pytest.raises(LabelStudioError, match="HTTP 503.*busy.*2 attempts"):
            ls_call("read project 3", connect(settings, check=False, retries=1).projects.get, id=3)
    finally:
        server.shutdown()
        server.server_close()
