"""The API keeps serving while `winnow index` rebuilds the Qdrant Edge index, then answers
from the new version without a restart; a build that dies leaves it on the old version.

A real uvicorn server on 127.0.0.1 loads the index itself (``open_live_index``), a thread
keeps querying it over HTTP, and the real indexing job embeds real photos into new versions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd
import pytest
import uvicorn

from serve.app import create_app
from serve.engine import Parts
from sync.indexing.job import index_new_version
from winnow.config import Settings
from winnow.index.versions import VersionStore
from winnow.services.process import free_port, wait_until

pytestmark = pytest.mark.slow
SHUTTLE_TASK = 13  # corpus: cats are tasks 1-6, espresso 7-12, the space shuttle 13-18


def tasks(corpus, labels: set[str]) -> pd.DataFrame:
    """Tasks as Label Studio would list them, before any content was hashed."""
    rows = [
        {
            "task_id": p.payload["task_id"],
            "image": p.payload["url"],
            "sha256": None,
            "labels": p.payload["labels"],
            "split": p.payload["split"],
            "flags": p.payload["flags"],
        }
        for p, _ in corpus
        if p.payload["label"] in labels
    ]
    return pd.DataFrame(rows)


@dataclass
class Traffic:
    """A client that searches and probes in a loop; every answer is kept."""

    url: str
    answers: list[tuple[float, str, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                for path in ("/v1/search/task/1?k=5", "/readyz", "/v1/stats"):
                    status = client.get(path).status_code
                    self.answers.append((time.monotonic(), path, status))

    def between(self, start: float, end: float) -> list[int]:
        return [status for at, _, status in self.answers if start <= at <= end]


@contextmanager
def serving(settings: Settings, zero_shot) -> Iterator[str]:
    """The API in this process, on a free loopback port; it opens the index itself."""
    parts = Parts(embedder=zero_shot.feature_model.backbone, zero_shot=zero_shot)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, parts=parts), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    try:
        assert wait_until(ready, timeout_s=60), "the API did not become ready"
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def traffic(url: str) -> Iterator[Traffic]:
    client = Traffic(url)
    thread = threading.Thread(target=client.run, daemon=True)
    thread.start()
    try:
        yield client
    finally:
        client.stop.set()
        thread.join(timeout=30)


@pytest.fixture()
def settings(tmp_path: Path, image_root: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        io={"local_roots": [image_root]},
        features={"workers": 0},
        serve={"project": 7, "rate_limit_per_s": 0},
    )


def index_run(settings: Settings, zero_shot, frame: pd.DataFrame, **kwargs):
    embedder = zero_shot.feature_model.backbone
    return index_new_version(frame, settings=settings, embedder=embedder, project=7, **kwargs)


def test_the_api_serves_through_a_rebuild_and_answers_from_the_new_version(
    settings: Settings, corpus, zero_shot
) -> None:
    index_run(settings, zero_shot, tasks(corpus, {"cat", "espresso"}))
    with serving(settings, zero_shot) as url, traffic(url) as client:
        before = httpx.get(f"{url}/v1/search/task/{SHUTTLE_TASK}")
        assert before.status_code == 404  # not indexed yet
        wait_until(lambda: len(client.answers) >= 3, timeout_s=30, interval_s=0.05)
        started = time.monotonic()
        run = index_run(settings, zero_shot, tasks(corpus, {"cat", "espresso", "space shuttle"}))
        published = time.monotonic()
        assert (run.sync.upserted, run.sync.unchanged, run.total_points) == (6, 12, 18)

        def sees_shuttle() -> bool:
            return httpx.get(f"{url}/v1/search/task/{SHUTTLE_TASK}?k=3").status_code == 200

        assert wait_until(sees_shuttle, timeout_s=15, interval_s=0.1)
        swapped = time.monotonic()
        hits = httpx.get(f"{url}/v1/search/task/{SHUTTLE_TASK}?k=3").json()["hits"]
        assert [h["labels"] for h in hits] == [["space shuttle"]] * 3
        assert httpx.get(f"{url}/v1/stats").json()["points"] == 18
        time.sleep(0.3)  # a few more answers from the new version
    during = client.between(started, swapped)
    assert len(during) >= 3, "no request ran while the index was rebuilt"
    assert {status for _, _, status in client.answers} == {200}, client.answers
    assert swapped - published < 10  # the watcher polls once a second (slack for load)
    store = VersionStore(settings.data_dir / "index", settings.index.collection)
    assert store.pointer.read_text() == "000002\n"


def test_a_build_that_dies_leaves_the_api_on_the_old_version(
    settings: Settings, corpus, zero_shot
) -> None:
    index_run(settings, zero_shot, tasks(corpus, {"cat", "espresso"}))

    @contextmanager
    def dies_after_upserting(description: str, total: int | None = None) -> Iterator:
        calls = []

        def advance(n: int = 1) -> None:
            calls.append(n)
            if description == "index" and len(calls) == 2:  # 12 unchanged, then 6 written
                raise RuntimeError("killed during the build")

        yield advance

    store = VersionStore(settings.data_dir / "index", settings.index.collection)
    with serving(settings, zero_shot) as url, traffic(url) as client:
        full = tasks(corpus, {"cat", "espresso", "space shuttle"})
        with pytest.raises(RuntimeError, match="killed"):
            index_run(settings, zero_shot, full, bars=dies_after_upserting)
        time.sleep(1.5)  # longer than the watcher's poll
        assert httpx.get(f"{url}/v1/search/task/{SHUTTLE_TASK}").status_code == 404
        assert httpx.get(f"{url}/v1/stats").json()["points"] == 12
    assert {status for _, _, status in client.answers} == {200}
    assert store.pointer.read_text() == "000001\n"
    assert not list(store.home.glob(".building-*"))
