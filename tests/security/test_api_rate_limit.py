"""Issue 17, finding 5: a flood meets 429s, and concurrent hostile images cannot exhaust memory.

Attacks on a real ``winnow serve``: 16 clients flood one key (token bucket: 429 with
Retry-After, other keys unaffected), and 16 clients with 16 keys (so the rate limit lets
every one through) upload 36 MP PNGs at once, where only the decode slots bound the memory.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from api_process import ApiServer, PeakSampler, build_index, running_api

from winnow.samples import png_bomb

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MB = 1024 * 1024
RATE, BURST = 5, 10
UPLOAD_KEYS = [f"upload-key-{i:02d}" for i in range(16)]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, imagenet_predictor) -> Iterator[ApiServer]:
    data_dir = tmp_path_factory.mktemp("api_rate")
    build_index(data_dir, imagenet_predictor)
    env = {
        "WINNOW_SERVE__API_KEYS": ",".join(["flood-key", "calm-key", *UPLOAD_KEYS]),
        "WINNOW_SERVE__RATE_LIMIT_PER_S": str(RATE),
        "WINNOW_SERVE__RATE_LIMIT_BURST": str(BURST),
    }
    with running_api(data_dir, env=env) as server:
        yield server


def _together(n: int, work) -> list:
    """Run ``work(i)`` in ``n`` threads released at the same moment; their results."""
    results: list = [None] * n
    gate = threading.Barrier(n)

    def run(i: int) -> None:
        gate.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_sixteen_clients_flooding_one_key_get_429_with_retry_after(api: ApiServer) -> None:
    seconds = 3.0

    def flood(i: int) -> list[tuple[int, str | None]]:
        answers, stop = [], time.monotonic() + seconds
        with api.client("flood-key", timeout=30) as http:
            while time.monotonic() < stop:
                r = http.get(f"/v1/search/task/{1 + i % 9}?k=3")
                answers.append((r.status_code, r.headers.get("Retry-After")))
        return answers

    started = time.monotonic()
    with PeakSampler(api.rss) as rss:
        answers = [a for client in _together(16, flood) for a in client]
        with api.client("calm-key", timeout=30) as http:  # the bucket is per key
            calm = http.get("/v1/search/task/1?k=3")
    elapsed = time.monotonic() - started
    counts = Counter(status for status, _ in answers)
    assert set(counts) <= {200, 429}, counts
    assert counts[429] > 0, counts
    assert counts[200] <= BURST + RATE * elapsed + 1, counts
    retry_after = [int(value) for status, value in answers if status == 429]
    assert len(retry_after) == counts[429] and min(retry_after) >= 1
    assert calm.status_code == 200
    assert rss.peak - rss.start < 200 * MB


def test_concurrent_36_mp_uploads_decode_a_few_at_a_time(api: ApiServer) -> None:
    """16 PNGs of 36 MP (each over 140 MB once decoded) at once, each with its own key."""
    bomb = png_bomb(6000, 6000)

    def upload(i: int) -> int:
        with api.client(UPLOAD_KEYS[i], timeout=240) as http:
            response = http.post("/v1/search/image?k=3", files={"file": ("big.png", bomb)})
        return response.status_code

    with PeakSampler(api.rss) as rss:
        statuses = _together(16, upload)
    assert statuses == [200] * 16
    grown = rss.peak - rss.start
    # two decode slots: about 2 x 150 MB; sixteen decodes at once would take over 2 GB
    assert grown < 700 * MB, f"RSS grew by {grown / MB:.0f} MB"
