"""Issue 17, finding 3: a hostname sent to ``/setup`` never bypasses the SSRF guard.

Against a real ``winnow backend`` with no Label Studio key configured: three web servers on
127.0.0.1 record every request. ``configured`` is ``label_studio.url``; ``listed`` is in
``backend.setup_hostnames`` (but not in ``io.allowed_hosts``); ``hostile`` is neither. A
``/setup`` naming the hostile host, followed by ``/predict`` with Label Studio file paths and
loopback URLs, must not reach it (nor hand it the token); a listed host is accepted but still
guarded; only the configured Label Studio is read, with the token from ``/setup``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from backend_process import (
    LABEL_CONFIG,
    Backend,
    RecordingServer,
    photo_jpeg,
    recording_server,
    running_backend,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hosts() -> Iterator[dict[str, RecordingServer]]:
    body = photo_jpeg("chelsea")
    with (
        recording_server(body) as configured,
        recording_server(body) as listed,
        recording_server(body) as hostile,
    ):
        yield {"configured": configured, "listed": listed, "hostile": hostile}


@pytest.fixture(scope="module")
def backend(
    tmp_path_factory: pytest.TempPathFactory, hosts: dict[str, RecordingServer]
) -> Iterator[Backend]:
    env = {
        "WINNOW_LABEL_STUDIO__URL": hosts["configured"].origin,
        "WINNOW_BACKEND__SETUP_HOSTNAMES": json.dumps([hosts["listed"].origin]),
    }
    with running_backend(tmp_path_factory.mktemp("backend-setup"), env) as server:
        yield server


def _setup_then_predict(
    backend: Backend, project: int, hostname: str, images: list[str]
) -> list[dict]:
    with backend.client() as http:
        setup = http.post(
            "/setup",
            json={
                "project": f"{project}.1700000000",
                "schema": LABEL_CONFIG,
                "hostname": hostname,
                "access_token": f"token-for-{project}",
            },
        )
        assert setup.status_code == 200, setup.text
        tasks = [{"id": i, "data": {"image": image}} for i, image in enumerate(images)]
        predicted = http.post("/predict", json={"tasks": tasks, "project": f"{project}.1"})
    assert predicted.status_code == 200, predicted.text
    return predicted.json()["results"]


def test_a_hostile_setup_hostname_is_never_contacted(
    backend: Backend, hosts: dict[str, RecordingServer]
) -> None:
    hostile = hosts["hostile"]
    results = _setup_then_predict(
        backend,
        11,
        hostile.origin,
        [
            "/data/upload/11/a.jpg",  # relative: Label Studio's, i.e. the configured one
            hostile.origin + "/data/upload/11/b.jpg",  # absolute on the named host
            hostile.origin + "/metadata/secret.jpg",  # any loopback URL
        ],
    )
    assert hostile.requests == []
    assert [r.get("error", "").split(":")[0] for r in results[1:]] == ["blocked_source"] * 2
    # the relative path went to the configured Label Studio, without the hostile's token
    assert ("/data/upload/11/a.jpg", None) in hosts["configured"].requests


def test_an_operator_listed_hostname_is_accepted_but_still_guarded(
    backend: Backend, hosts: dict[str, RecordingServer]
) -> None:
    listed = hosts["listed"]
    results = _setup_then_predict(backend, 12, listed.origin, ["/data/upload/12/c.jpg"])
    assert listed.requests == []  # loopback, and not in io.allowed_hosts: refused
    assert results[0]["error"].startswith("blocked_source:")
    assert "127.0.0.1" in results[0]["error"]  # refused as a loopback address


def test_the_configured_label_studio_gets_the_setup_token_on_file_paths(
    backend: Backend, hosts: dict[str, RecordingServer]
) -> None:
    configured = hosts["configured"]
    results = _setup_then_predict(backend, 13, configured.origin, ["/data/upload/13/d.jpg"])
    assert ("/data/upload/13/d.jpg", "Token token-for-13") in configured.requests
    assert results[0].get("result")  # the real photo was predicted on
