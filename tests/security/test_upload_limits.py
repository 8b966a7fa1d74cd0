"""Issue 17, findings 4 and 5: uploads are refused from their headers, before the body is read.

Attacks on a real ``winnow serve``: a 300 MB upload with a wrong key, chunked or not; an
oversized ``Content-Length`` with the right key; a chunked upload that never ends; and a
9000x9000 PNG (81 MP, under the batch limit, over the API's). Each attacker counts the bytes
the server's side accepted, and the server's spool files and memory are read from ``/proc``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from api_process import ApiServer, PeakSampler, running_api, stream_upload
from PIL import Image

from winnow.samples import png_bomb

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "upload-limits-key-1"
MB = 1024 * 1024
UPLOAD_LIMIT = 4_000_000
ATTACK = 300 * MB
# what can sit in the two socket buffers beyond what the server read
SOCKET_SLACK = 8 * MB


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, imagenet_predictor) -> Iterator[ApiServer]:
    from api_process import build_index

    data_dir = tmp_path_factory.mktemp("api_uploads")
    build_index(data_dir, imagenet_predictor)
    env = {"WINNOW_SERVE__API_KEYS": KEY, "WINNOW_SERVE__MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT)}
    with running_api(data_dir, env=env) as server:
        yield server


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_300_mb_upload_with_a_wrong_key_is_refused_before_its_body_is_read(api, chunked):
    with PeakSampler(api.spooled) as spool:
        attack = stream_upload(api.port, key="wrong-key", total=ATTACK, chunked=chunked)
    assert attack.status == 401, attack.response[:300]
    assert b'"kind":"unauthorized"' in attack.response
    assert attack.sent < SOCKET_SLACK, f"the server side took {attack.sent} bytes"
    assert spool.peak == 0  # not one byte spooled to disk


def test_an_upload_without_a_key_is_refused_before_its_body_is_read(api):
    attack = stream_upload(api.port, key=None, total=ATTACK)
    assert attack.status == 401 and attack.sent < SOCKET_SLACK


def test_an_oversized_content_length_is_refused_at_once(api):
    attack = stream_upload(api.port, key=KEY, total=ATTACK, body_limit=0)  # headers only
    assert attack.status == 413, attack.response[:300]
    assert b'"kind":"too_large"' in attack.response
    assert attack.sent == 0 and attack.seconds < 1.0


def test_a_chunked_upload_is_cut_once_it_passes_the_limit(api):
    with PeakSampler(api.spooled) as spool:
        attack = stream_upload(api.port, key=KEY, total=ATTACK, chunked=True)
    assert attack.status == 413, attack.response[:300]
    assert b'"kind":"too_large"' in attack.response
    assert attack.sent < UPLOAD_LIMIT + SOCKET_SLACK, f"the server side took {attack.sent} bytes"
    assert spool.peak <= UPLOAD_LIMIT + 64 * 1024


def test_the_connection_is_not_reused_after_an_unread_body(api):
    attack = stream_upload(api.port, key="wrong-key", total=ATTACK)
    assert b"connection: close" in attack.response.lower()


def test_a_9000_by_9000_png_is_refused_by_the_api_pixel_limit(api):
    bomb = png_bomb(9000, 9000)  # 81 MP: passes io.max_pixels (100 MP), decodes to ~320 MB
    assert len(bomb) < UPLOAD_LIMIT
    with api.client(KEY, timeout=60) as http, PeakSampler(api.rss) as rss:
        response = http.post("/v1/search/image", files={"file": ("bomb.png", bomb)})
    assert response.status_code == 413 and response.json()["kind"] == "too_many_pixels"
    assert "40000000" in response.json()["error"]
    assert rss.peak - rss.start < 50 * MB, "the bomb was decoded"


def test_an_image_under_the_pixel_limit_is_still_served(api):
    image = Image.new("RGB", (640, 480), (90, 140, 200))
    body = io.BytesIO()
    image.save(body, format="PNG")
    with api.client(KEY, timeout=60) as http:
        response = http.post("/v1/search/image?k=3", files={"file": ("ok.png", body.getvalue())})
    assert response.status_code == 200, response.text
    assert len(response.json()["hits"]) == 3
