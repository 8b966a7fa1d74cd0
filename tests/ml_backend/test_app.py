"""The protocol app over HTTP (in-process): Label Studio's payloads in, its answers out."""

from __future__ import annotations

import logging

import pytest

from winnow.labelstudio.controls.parse import WORKING_EXAMPLE
from winnow.zeroshot.imagenet import ImageNetZeroShot


def tasks_for(photo_dir, *names, start=1):
    return [{"id": i, "data": {"image": str(photo_dir / n)}} for i, n in enumerate(names, start)]


@pytest.fixture
def client(make_settings, client_for, imagenet_predictor):
    return client_for(make_settings(), predictor=imagenet_predictor)


def metric(client, name: str, **labels) -> float:
    return client.app.state.backend.metrics.value(name, **labels)


def test_health_setup_and_predict_real_photos(client, cat_coffee, photo_dir):
    health = client.get("/health").json()
    assert health == {
        "status": "UP",
        "model_class": "winnow-zero-shot-imagenet",
        "model": "ready",
        "training": "idle",
    }
    setup = client.post("/setup", json={"project": "3.1700000000", "schema": cat_coffee})
    assert setup.status_code == 200
    version = setup.json()["model_version"]
    assert version.startswith("imagenet-efficientnet_lite0-imagenet@")
    body = {"tasks": tasks_for(photo_dir, "chelsea.jpg", "coffee.png"), "project": "3.1700000000"}
    answer = client.post("/predict", json=body)  # no label_config: the one from /setup
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [r["result"][0]["value"]["choices"] for r in results] == [["cat"], ["coffee"]]
    for r in results:
        assert r["model_version"] == version
        assert 0.8 < r["score"] <= 1.0
        assert r["result"][0] | {"value": None, "score": None} == {
            "from_name": "label",
            "to_name": "image",
            "type": "choices",
            "value": None,
            "score": None,
        }


def test_second_predict_computes_nothing(client, cat_coffee, photo_dir):
    body = {
        "tasks": tasks_for(photo_dir, "chelsea.jpg", "coffee.png", "chelsea.jpg"),
        "label_config": cat_coffee,
    }
    first = client.post("/predict", json=body).json()
    computed = metric(client, "winnow_backend_embedding_cache_total", result="computed")
    assert computed == 2
    second = client.post("/predict", json=body).json()
    assert metric(client, "winnow_backend_embedding_cache_total", result="computed") == 2
    assert metric(client, "winnow_backend_embedding_cache_total", result="hit") == 2
    assert second == first


def test_bad_tasks_get_no_prediction_and_the_others_do(client, cat_coffee, photo_dir, caplog):
    tasks = [
        *tasks_for(photo_dir, "chelsea.jpg", "broken.jpg"),
        {"id": 3, "data": {"image": "http://10.1.2.3/cat.jpg"}},
        {"id": 4, "data": {"image": "http://169.254.169.254/latest/meta-data/"}},
        {"id": 5, "data": {"text": "no image here"}},
        *tasks_for(photo_dir, "coffee.png", start=6),
    ]
    with caplog.at_level(logging.WARNING, logger="ml_backend.service"):
        answer = client.post("/predict", json={"tasks": tasks, "label_config": cat_coffee})
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert len(results) == len(tasks)
    assert ["result" in r for r in results] == [True, False, False, False, False, True]
    errors = [r.get("error", "") for r in results]
    assert errors[1].startswith(("corrupt:", "truncated:"))
    assert errors[2].startswith("blocked_source:") and "private" in errors[2]
    assert errors[3].startswith("blocked_source:") and "link-local" in errors[3]
    assert errors[4].startswith("missing_data:")
    sources = [t["data"].get("image", "-") for t in tasks]
    for task_id, source, error in zip(range(2, 6), sources[1:5], errors[1:5], strict=True):
        assert f"task {task_id}: no prediction for {source}: {error}" in caplog.text
    assert metric(client, "winnow_backend_task_failures_total", kind="blocked_source") == 2


def test_local_paths_need_configured_roots(
    make_settings, client_for, imagenet_predictor, cat_coffee, photo_dir
):
    client = client_for(make_settings(io={}), predictor=imagenet_predictor)
    body = {"tasks": tasks_for(photo_dir, "chelsea.jpg"), "label_config": cat_coffee}
    [result] = client.post("/predict", json=body).json()["results"]
    assert "result" not in result
    assert result["error"].startswith("blocked_source: local files named by image data are")


def test_unsupported_config_is_a_clear_400(client):
    xml = '<View><Text name="t" value="$t"/><Choices name="c" toName="t"><Choice value="x"/>'
    answer = client.post("/setup", json={"project": "1.1", "schema": xml + "</Choices></View>"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["kind"] == "label_config"
    assert "not to an <Image>" in body["error"] and WORKING_EXAMPLE in body["error"]
    broken = client.post("/setup", json={"schema": "<View"})
    assert broken.status_code == 400 and "not valid XML" in broken.json()["error"]
    nothing = client.post("/predict", json={"tasks": []})
    assert nothing.status_code == 400 and "no label_config" in nothing.json()["error"]


def test_invalid_bodies_are_422_json(client):
    answer = client.post("/predict", json={"tasks": "not a list"})
    assert answer.status_code == 422
    assert answer.json()["kind"] == "invalid_request"
    assert "tasks" in answer.json()["error"]


def test_missing_clip_checkpoint_explains_itself_in_setup(
    make_settings, client_for, tiny_clip_checkpoint, tmp_path, cat_coffee
):
    name, _ = tiny_clip_checkpoint
    settings = make_settings(
        embedding={"kind": "clip", "clip_model": name, "clip_checkpoint": tmp_path / "missing.pt"}
    )
    client = client_for(settings)
    health = client.get("/health").json()
    assert health["status"] == "UP" and health["model"].startswith("unavailable: ")
    for path, body in (
        ("/setup", {"schema": cat_coffee}),
        ("/predict", {"tasks": [], "label_config": cat_coffee}),
    ):
        answer = client.post(path, json=body)
        assert answer.status_code == 400
        assert answer.json()["kind"] == "model_unavailable"
        assert "WINNOW_EMBEDDING__CLIP_CHECKPOINT" in answer.json()["error"]
        assert "missing.pt" in answer.json()["error"]
    assert metric(client, "winnow_backend_model_ready") == 0


def test_tiny_clip_loaded_from_a_checkpoint_predicts_multiple_choice(
    make_settings, client_for, tiny_clip_checkpoint, make_config, photo_dir
):
    name, checkpoint = tiny_clip_checkpoint
    settings = make_settings(
        embedding={"kind": "clip", "clip_model": name, "clip_checkpoint": checkpoint},
        backend={"multi_threshold": 0.2},
    )
    client = client_for(settings)
    xml = make_config(
        'value="cat"', 'value="coffee"', 'value="person"', 'value="rocket"', multiple=True
    )
    version = client.post("/setup", json={"schema": xml}).json()["model_version"]
    assert version.startswith("clip-winnow-test-tiny-clip-sha256-")
    body = {
        "tasks": tasks_for(photo_dir, "chelsea.jpg", "coffee.png", "astronaut.jpg"),
        "label_config": xml,
    }
    results = client.post("/predict", json=body).json()["results"]
    for r in results:  # random weights: check the shape of the answer, not its content
        assert r["model_version"] == version and 0.25 <= r["score"] <= 1.0  # 4 classes
        for item in r["result"]:
            assert set(item["value"]["choices"]) <= {"cat", "coffee", "person", "rocket"}
            assert item["score"] == r["score"]


def test_webhook_events_are_acknowledged_and_counted(client):
    for action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "START_TRAINING"):
        answer = client.post("/webhook", json={"action": action, "project": {"id": 1}})
        assert answer.status_code == 200
        training = "training" if action == "START_TRAINING" else "idle"  # 5 annotations per run
        assert answer.json() == {"status": "ok", "action": action, "training": training}
    # no Label Studio API key here: the run fails, visibly, and zero-shot keeps serving
    assert client.app.state.backend.learning.worker.wait_idle(30)
    health = client.get("/health").json()
    assert health["training"] == "failed" and "project 1" in health["training_error"]
    learning = client.app.state.backend.learning
    assert "no Label Studio API key" in learning.worker.status().last_error  # in the log only
    text = client.get("/metrics").text
    assert 'winnow_backend_webhook_events_total{action="START_TRAINING"} 1' in text
    assert 'winnow_backend_training_state{state="failed"} 1' in text
    assert 'winnow_backend_training_runs{outcome="failed"} 1' in text
    assert 'winnow_backend_requests_total{endpoint="/webhook",status="200"} 3' in text


def test_basic_auth_when_configured(make_settings, client_for, imagenet_predictor, monkeypatch):
    monkeypatch.setenv("WINNOW_BACKEND__BASIC_AUTH_PASSWORD", "s3cret-Pass")
    settings = make_settings(backend={"basic_auth_user": "ls"})
    client = client_for(settings, predictor=imagenet_predictor)
    missing = client.get("/health")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic")
    assert client.get("/health", auth=("ls", "wrong")).status_code == 401
    assert client.get("/health", auth=("other", "s3cret-Pass")).status_code == 401
    assert client.get("/health", auth=("ls", "s3cret-Pass")).status_code == 200
    assert client.get("/metrics", auth=("ls", "s3cret-Pass")).status_code == 200


class _Exploding(ImageNetZeroShot):
    """A predictor with a bug, to see what a client gets for an unexpected error."""

    def probabilities(self, features, head, *, multiple):
        raise RuntimeError("secret internal detail")


def test_unexpected_errors_answer_json_without_a_trace(
    make_settings, client_for, imagenet_predictor, cat_coffee, photo_dir, caplog
):
    broken = _Exploding.__new__(_Exploding)
    broken.feature_model = imagenet_predictor.feature_model
    client = client_for(make_settings(), predictor=broken)
    body = {"tasks": tasks_for(photo_dir, "chelsea.jpg"), "label_config": cat_coffee}
    with caplog.at_level(logging.ERROR):
        answer = client.post("/predict", json=body)
    assert answer.status_code == 500
    assert answer.json() == {
        "error": "internal error; the backend log has details",
        "kind": "internal_error",
    }
    assert "secret internal detail" in caplog.text  # the log has it, the response does not
