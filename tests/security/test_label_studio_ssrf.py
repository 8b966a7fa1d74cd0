"""Finding 7: Label Studio's SSRF guard stays on under Winnow's local launcher.

The attack: a Label Studio user imports tasks "from a URL" that points at a service only
the server can reach (a metadata endpoint, an admin port on loopback). Label Studio fetches
it server-side. With the guard on and only 127.0.0.1 (where the local ML backend, API and
S3 listen) allowed, a fake metadata service on another loopback address is never contacted,
while the same import from the allowed address works (so the test can fail).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from winnow.services.label_studio import LOCAL_SSRF_ALLOWED, LabelStudio
from winnow.services.process import serving_in_thread

pytestmark = pytest.mark.integration
TASKS = json.dumps([{"image": "http://example.invalid/a.jpg", "secret": "instance-role"}])


class _Metadata(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        body = TASKS.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(address: str) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer((address, 0), _Metadata)
    server.hits = []  # type: ignore[attr-defined]
    with serving_in_thread(server):
        yield server


@pytest.fixture
def metadata_service() -> Iterator[ThreadingHTTPServer]:
    """A fake cloud-metadata service on 127.0.0.2: loopback, but not an allowed address."""
    yield from _serve("127.0.0.2")


@pytest.fixture
def allowed_service() -> Iterator[ThreadingHTTPServer]:
    yield from _serve("127.0.0.1")


def _import_from_url(label_studio: LabelStudio, url: str) -> httpx.Response:
    with httpx.Client(base_url=label_studio.url, headers=label_studio.auth_headers) as ls:
        project = ls.post("/api/projects", json={"title": "ssrf"}).raise_for_status().json()
        return ls.post(f"/api/projects/{project['id']}/import", data={"url": url}, timeout=60)


def test_the_launcher_keeps_the_guard_on_and_allows_only_loopback_one(label_studio):
    env = label_studio._env()
    assert env["LABEL_STUDIO_SSRF_PROTECTION_ENABLED"] == "true"
    assert env["LABEL_STUDIO_ML_BLOCK_LOCAL_IP"] == "true"
    assert env["LABEL_STUDIO_USE_DEFAULT_BANNED_SUBNETS"] == "false"
    assert label_studio.ssrf_allowed == LOCAL_SSRF_ALLOWED
    banned = env["LABEL_STUDIO_USER_ADDITIONAL_BANNED_SUBNETS"].split(",")
    assert "169.254.0.0/16" in banned and "10.0.0.0/8" in banned and "127.0.0.2/31" in banned


def test_an_import_from_a_non_allowed_address_is_refused_and_never_fetched(
    label_studio, metadata_service
):
    host, port = metadata_service.server_address[:2]
    answer = _import_from_url(label_studio, f"http://{host}:{port}/latest/meta-data/tasks.json")
    assert answer.status_code >= 400, answer.text[:300]
    assert metadata_service.hits == []  # type: ignore[attr-defined]
    assert "instance-role" not in answer.text


def test_the_cloud_metadata_address_is_refused(label_studio):
    answer = _import_from_url(label_studio, "http://169.254.169.254/latest/meta-data/")
    assert answer.status_code >= 400
    assert "reserved network" in answer.text or "blocked" in answer.text.lower(), answer.text


def test_the_allowed_address_still_imports(label_studio, allowed_service):
    """The control: the same import from 127.0.0.1 reaches the server and makes a task."""
    host, port = allowed_service.server_address[:2]
    answer = _import_from_url(label_studio, f"http://{host}:{port}/tasks.json")
    assert answer.status_code == 201, answer.text[:300]
    assert allowed_service.hits == ["/tasks.json"]  # type: ignore[attr-defined]
    assert answer.json()["task_count"] == 1
