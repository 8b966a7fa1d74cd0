"""Issue 17, finding 2 (code part): the ML backend is never exposed without a login, and one
``/predict`` cannot ask for unbounded work.

Attacks on real ``winnow backend`` processes: starting it on every interface without basic
auth (it must exit with a clear message and never listen), then, on a backend with basic
auth, calling the protocol without credentials and posting more tasks than the cap.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from backend_process import LABEL_CONFIG, Backend, running_backend

from winnow.services.process import free_port

pytestmark = pytest.mark.integration

USER, PASSWORD = "label-studio", "backend-exposure-pass-1"
CAP = 5
BODY_CAP = 256 * 1024


def _start_exposed(
    host: str, tmp_path: Path, **env: str
) -> tuple[subprocess.CompletedProcess, int]:
    port = free_port()
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("WINNOW_")}
    child_env.update(WINNOW_DATA_DIR=str(tmp_path), COLUMNS="200", **env)
    done = subprocess.run(
        [sys.executable, "-m", "winnow", "backend", "--host", host, "--port", str(port)],
        env=child_env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,  # a backend that starts serving never exits: the attack succeeded
        check=False,
    )
    return done, port


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "backend.example.org"])
def test_a_non_loopback_bind_without_credentials_exits_with_a_clear_message(
    host: str, tmp_path: Path
) -> None:
    done, port = _start_exposed(host, tmp_path)

    message = " ".join(done.stderr.decode().split())
    assert done.returncode == 1
    assert f"refusing to run the ML backend on {host} without basic auth" in message
    assert "WINNOW_BACKEND__BASIC_AUTH_USER" in message
    with socket.socket() as probe:  # and nothing was left listening
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_half_a_credential_is_no_credential(tmp_path: Path) -> None:
    done, _ = _start_exposed("0.0.0.0", tmp_path, WINNOW_BACKEND__BASIC_AUTH_USER=USER)
    assert done.returncode != 0
    assert b"basic_auth" in done.stderr


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    env = {
        "WINNOW_BACKEND__BASIC_AUTH_USER": USER,
        "WINNOW_BACKEND__BASIC_AUTH_PASSWORD": PASSWORD,
        "WINNOW_BACKEND__MAX_TASKS_PER_REQUEST": str(CAP),
        "WINNOW_BACKEND__MAX_REQUEST_BYTES": str(BODY_CAP),
    }
    with running_backend(tmp_path_factory.mktemp("backend-exposure"), env) as server:
        yield server


def test_protocol_endpoints_need_the_credentials(backend: Backend) -> None:
    with backend.client() as anonymous:
        answers = {
            "/setup": anonymous.post("/setup", json={"project": "1.0", "schema": LABEL_CONFIG}),
            "/predict": anonymous.post("/predict", json={"tasks": []}),
            "/webhook": anonymous.post("/webhook", json={"action": "START_TRAINING"}),
        }
    with backend.client(auth=(USER, "wrong")) as wrong:
        answers["/setup (wrong password)"] = wrong.post("/setup", json={"schema": LABEL_CONFIG})
    assert {path: r.status_code for path, r in answers.items()} == dict.fromkeys(answers, 401)


def test_a_huge_body_is_cut_while_it_streams(backend: Backend) -> None:
    """One task padded to 4 MB, streamed chunked: under the task cap, over
    backend.max_request_bytes, so only the body limit can answer 413."""
    sent: list[int] = []

    def chunks():
        yield b'{"label_config": %s, "tasks": [{"data": {"image": "x.jpg"}, "pad": "' % (
            json.dumps(LABEL_CONFIG).encode()
        )
        for _ in range(1000):  # 4 MB, 16 times the cap
            sent.append(4096)
            yield b"x" * 4096
        yield b'"}]}'

    with backend.client(auth=(USER, PASSWORD)) as http:
        answer = http.post(
            "/predict", content=chunks(), headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 413
    assert "too_many_tasks" not in answer.text
    assert sum(sent) > BODY_CAP


def test_predict_refuses_more_tasks_than_the_cap(backend: Backend) -> None:
    def tasks(n: int) -> list[dict]:
        return [{"id": i, "data": {"image": f"https://example.invalid/{i}.jpg"}} for i in range(n)]

    with backend.client(auth=(USER, PASSWORD)) as http:
        over = http.post("/predict", json={"tasks": tasks(CAP + 1), "label_config": LABEL_CONFIG})
        at_cap = http.post("/predict", json={"tasks": tasks(CAP), "label_config": LABEL_CONFIG})

    assert over.status_code == 413
    body = over.json()
    assert body["kind"] == "too_many_tasks"
    assert f"at most {CAP}" in body["error"] and "max_tasks_per_request" in body["error"]
    assert at_cap.status_code == 200
    assert len(at_cap.json()["results"]) == CAP
