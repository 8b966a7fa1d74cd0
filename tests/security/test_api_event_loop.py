"""Issue 17, finding 14: a slow index call must not stall the API's event loop.

The attack on a real ``winnow serve`` whose index answers each search after 3 s (as a
remote Qdrant under load would): searches by task are in flight, and ``/healthz`` and
``/readyz`` must still answer at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from api_process import ApiServer, build_index, running_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "event-loop-key-1"
DELAY_S = 3.0


@pytest.fixture(scope="module")
def slow_api(tmp_path_factory: pytest.TempPathFactory, imagenet_predictor) -> Iterator[ApiServer]:
    data_dir = tmp_path_factory.mktemp("api_slow")
    build_index(data_dir, imagenet_predictor)
    env = {"WINNOW_SERVE__API_KEYS": KEY}
    with running_api(data_dir, env=env, slow_index_s=DELAY_S) as server:
        yield server


@pytest.mark.parametrize("searches", [1, 8])
def test_probes_answer_while_slow_searches_are_in_flight(slow_api: ApiServer, searches: int):
    results: list[tuple[int, float]] = []

    def search(task: int) -> None:
        started = time.monotonic()
        with slow_api.client(KEY, timeout=60) as http:
            status = http.get(f"/v1/search/task/{task}?k=3").status_code
        results.append((status, time.monotonic() - started))

    threads = [threading.Thread(target=search, args=(1 + i % 9,)) for i in range(searches)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # the searches are now inside the slow index call
    probes = {}
    with slow_api.client(timeout=10) as http:
        for path in ("/healthz", "/readyz"):
            started = time.monotonic()
            status = http.get(path).status_code
            probes[path] = (status, time.monotonic() - started)
    for thread in threads:
        thread.join()
    assert all(status == 200 and took < 1.0 for status, took in probes.values()), probes
    # the searches really were slow, and all of them were answered
    assert len(results) == searches
    assert all(status == 200 and took >= DELAY_S for status, took in results), results
