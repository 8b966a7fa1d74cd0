"""The backend on detection projects: box pre-annotations from the real Haar face detector
on skimage's astronaut photo, whose face position is known, and mixed configs (choices and
polygons) answered together with detections cached per content."""

from __future__ import annotations

from model_fixtures import FACES, MIXED

from ml_backend.service import PredictionService
from winnow.detection.faces import HaarFaceDetector
from winnow.store import FeatureStore


def tasks_for(photo_dir, *names):
    return [{"id": i, "data": {"image": str(photo_dir / n)}} for i, n in enumerate(names, 1)]


def test_backend_pre_annotates_the_astronauts_face(
    make_settings, client_for, imagenet_predictor, photo_dir
):
    client = client_for(make_settings(detection={"backend": "haar"}), predictor=imagenet_predictor)
    setup = client.post("/setup", json={"project": "7.1700000000", "schema": FACES})
    assert setup.status_code == 200, setup.text
    version = setup.json()["model_version"]
    assert version.startswith("detect-haar-frontalface@")
    body = {
        "tasks": tasks_for(photo_dir, "astronaut.jpg", "chelsea.jpg", "broken.jpg"),
        "label_config": FACES,
    }
    face, cat, broken = client.post("/predict", json=body).json()["results"]
    [region] = face["result"]
    assert region["value"]["rectanglelabels"] == ["Face"] and face["model_version"] == version
    value = region["value"]
    assert 30 < value["x"] < 40 and 10 < value["y"] < 17 and 15 < value["width"] < 22
    assert (region["original_width"], region["original_height"]) == (512, 512)
    assert cat["result"] == [] and cat["score"] == 0.0
    assert "result" not in broken and "truncated" in broken["error"]


def test_mixed_config_answers_choices_and_boxes(make_settings, imagenet_predictor, photo_dir):
    settings = make_settings(detection={"label_map": {"face": "people"}})

    class CountingFaces(HaarFaceDetector):
        calls = 0

        def detect(self, images):
            CountingFaces.calls += len(images)
            return super().detect(images)

    with FeatureStore(settings.store_path) as store:
        service = PredictionService(settings, imagenet_predictor, store, detector=CountingFaces())
        try:
            plan = service.plan(MIXED)
            tasks = [{"id": 1, "data": {"photo": str(photo_dir / "astronaut.jpg")}}]
            [first] = service.predict(tasks, plan, label_studio=None)
            [again] = service.predict(tasks, plan, label_studio=None)
        finally:
            service.close()
    types = sorted(item["type"] for item in first.result)
    assert types == ["choices", "polygonlabels"]
    poly = next(item for item in first.result if item["type"] == "polygonlabels")
    assert poly["value"]["polygonlabels"] == ["people"] and len(poly["value"]["points"]) == 4
    assert CountingFaces.calls == 1 and again.result == first.result  # cached per content
