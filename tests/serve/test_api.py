"""The API end to end over a real Qdrant Edge index, the real backbone and real photos."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageOps
from skimage import data

from serve.app import create_app
from serve.engine import Parts
from winnow.samples import png_bomb

pytestmark = pytest.mark.slow


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def upload(body: bytes, name: str = "query.jpg") -> dict:
    return {"file": (name, body, "application/octet-stream")}


def chelsea() -> Image.Image:
    return Image.fromarray(data.chelsea()).convert("RGB")


def test_probes(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "detail": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_readyz_is_503_with_retry_after_until_the_index_loads(serve_settings) -> None:
    from fastapi.testclient import TestClient

    app = create_app(serve_settings, parts=Parts(), load=False)
    with TestClient(app) as client:
        ready = client.get("/readyz")
        search = client.get("/v1/search/task/1")
    assert ready.status_code == 503 and ready.headers["Retry-After"] == "5"
    assert set(ready.json()["detail"]["missing"]) == {"index", "model"}
    assert search.status_code == 503 and search.json()["kind"] == "unavailable"


def test_search_by_upload_finds_the_same_subject_first(client) -> None:
    query = ImageOps.mirror(chelsea()).rotate(5)
    response = client.post("/v1/search/image?k=5", files=upload(jpeg(query)))
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert len(hits) == 5
    assert [h["labels"] for h in hits] == [["cat"]] * 5
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0.8
    assert hits[0]["label_studio_url"].endswith(f"/projects/7/data?task={hits[0]['task_id']}")


def test_search_by_task_uses_the_stored_vector_and_excludes_the_task(client) -> None:
    hits = client.get("/v1/search/task/8?k=3").json()["hits"]  # task 8: an espresso crop
    assert 8 not in [h["task_id"] for h in hits]
    assert all(h["labels"] == ["espresso"] for h in hits)


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ("labels=espresso", lambda h: h["labels"] == ["espresso"]),
        ("splits=val", lambda h: h["split"] == "val"),
        ("flags=blurry", lambda h: h["flags"] == ["blurry"]),
        ("exclude_flagged=true", lambda h: h["flags"] == []),
    ],
)
def test_filters_apply_to_every_hit(client, query, check) -> None:
    hits = client.get(f"/v1/search/task/1?k=20&{query}").json()["hits"]
    assert hits and all(check(h) for h in hits)


def test_contradictory_filters_are_a_422(client) -> None:
    response = client.get("/v1/search/task/1?flags=blurry&exclude_flagged=true")
    assert response.status_code == 422 and response.json()["kind"] == "invalid_filter"


def test_recommend_follows_the_positive_examples(client) -> None:
    body = {"positive": [13, 14], "negative": [1], "k": 4}  # shuttles like, cat unlike
    response = client.post("/v1/recommend", json=body)
    assert response.status_code == 200, response.text
    hits = response.json()["hits"]
    assert {h["task_id"] for h in hits}.isdisjoint({13, 14, 1})
    assert [h["labels"] for h in hits] == [["space shuttle"]] * 4


def test_text_search_without_clip_is_a_clear_501(client) -> None:
    response = client.post("/v1/search/text", json={"text": "a cat"})
    assert response.status_code == 501
    assert "CLIP" in response.json()["error"]


def test_classify_gives_zero_shot_probabilities_over_the_index_labels(client) -> None:
    response = client.post("/v1/classify", files=upload(jpeg(chelsea())))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["trained"] is None  # no trained model for this project yet
    zero = body["zero_shot"]
    assert set(zero["probabilities"]) == {"cat", "espresso", "space shuttle"}
    assert zero["top"] == "cat" and zero["probabilities"]["cat"] > 0.9
    assert zero["model_version"].startswith("imagenet-")
    assert (body["width"], body["height"], body["format"]) == (451, 300, "JPEG")


def test_stats_count_labels_splits_and_flags(client) -> None:
    stats = client.get("/v1/stats").json()
    assert stats["points"] == 18
    assert stats["per_label"] == {"cat": 6, "espresso": 6, "space shuttle": 6}
    assert stats["per_split"] == {"train": 9, "val": 6, "test": 3}
    assert stats["per_flag"] == {"blurry": 3} and stats["flagged"] == 3


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (b"", 400, "empty_file"),
        (b"%PDF-1.4 not an image at all", 415, "not_an_image"),
        (png_bomb(20_000, 20_000), 413, "too_many_pixels"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, 400, "truncated"),
    ],
    ids=["empty", "non-image", "decompression-bomb", "corrupt-jpeg"],
)
def test_bad_uploads_are_clear_4xx(client, body, status, kind) -> None:
    response = client.post("/v1/search/image", files=upload(body, "x.jpg"))
    assert response.status_code == status, response.text
    assert response.json()["kind"] in {kind, "corrupt", "undecodable"}
    assert "Traceback" not in response.text


def test_an_upload_over_the_byte_limit_is_413(client) -> None:
    big = b"\xff\xd8\xff" + b"\x00" * (50 * 1024 * 1024)  # 50 MB; the test limit is 2 MB
    response = client.post("/v1/classify", files=upload(big))
    assert response.status_code == 413 and response.json()["kind"] == "too_large"


def test_huge_k_and_unknown_task_are_4xx(client) -> None:
    huge = client.get("/v1/search/task/1?k=1000000")
    assert huge.status_code == 422 and huge.json()["kind"] == "k_too_large"
    unknown = client.get("/v1/search/task/99999")
    assert unknown.status_code == 404 and unknown.json()["kind"] == "unknown_task"
    recommend = client.post("/v1/recommend", json={"positive": [99999]})
    assert recommend.status_code == 404


def test_metrics_count_requests_by_route_template(client) -> None:
    client.get("/v1/search/task/2")
    text = client.get("/metrics").text
    assert 'winnow_api_requests_total{route="/v1/search/task/{task_id}",status="200"}' in text


def test_samples_and_thumbnails_come_from_the_index(client) -> None:
    hits = client.get("/v1/samples?label=espresso&n=4").json()["hits"]
    assert len(hits) == 4 and all(h["labels"] == ["espresso"] for h in hits)
    thumb = client.get(f"/v1/tasks/{hits[0]['task_id']}/thumbnail")
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(thumb.content))
    assert max(image.size) == 192


def test_thumbnails_refuse_paths_outside_the_allowed_roots(client, filled_index, tmp_path):
    from winnow.index import IndexPoint

    outside = tmp_path / "secret.jpg"
    outside.write_bytes(jpeg(chelsea()))
    vector = next(filled_index.points(with_vectors=True)).vector
    sha = "f" * 64
    filled_index.upsert(
        [
            IndexPoint(
                sha,
                vector,
                {
                    "sha256": sha,
                    "task_id": 500,
                    "task_ids": [500],
                    "project": 7,
                    "url": str(outside),
                },
            )
        ]
    )
    try:
        response = client.get("/v1/tasks/500/thumbnail")
        assert response.status_code == 502 and response.json()["kind"] == "blocked_source"
    finally:
        filled_index.delete([sha])


def test_samples_read_at_most_the_scan_limit(serve_settings, parts, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    serve = serve_settings.serve.model_copy(update={"samples_scan_limit": 5})
    settings = serve_settings.model_copy(update={"serve": serve})
    read, points = [], parts.index.points

    def counting(*args, **kwargs):
        for point in points(*args, **kwargs):
            read.append(point.id)
            yield point

    monkeypatch.setattr(parts.index, "points", counting)
    with TestClient(create_app(settings, parts=parts, load=False)) as client:
        first = client.get("/v1/samples?n=3").json()["hits"]
        assert len(read) <= 5  # of 18 indexed points
        again = client.get("/v1/samples?n=3").json()["hits"]
        everything = client.get("/v1/samples?n=50").json()["hits"]
    assert len(first) == 3 and first == again  # a stable pick per seed
    assert len(everything) == 5 and {h["sha256"] for h in first} <= {
        h["sha256"] for h in everything
    }
