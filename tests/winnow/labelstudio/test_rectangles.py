"""Detection projects: RectangleLabels/PolygonLabels configs get box pre-annotations.

The detector is the real Haar face detector (``detection.backend: haar``) on skimage's
astronaut photo, whose face position is known; Label Studio's result format is checked
field by field.
"""

from __future__ import annotations

import numpy as np
import pytest

from ml_backend.service import PredictionService
from winnow.detection.base import Detection
from winnow.detection.faces import HaarFaceDetector
from winnow.labelstudio.controls.parse import LabelConfigError, parse_box_config, parse_label_config
from winnow.labelstudio.controls.rectangles import BoxControl
from winnow.store import FeatureStore

FACES = """<View><Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image"><Label value="Face"/><Label value="car"/>
  </RectangleLabels></View>"""
MIXED = """<View><Image name="img" value="$photo"/>
  <Choices name="kind" toName="img"><Choice value="cat"/><Choice value="space"/></Choices>
  <PolygonLabels name="poly" toName="img">
    <Label value="people" predicted_values="person"/><Label value="Dining tables"/>
  </PolygonLabels></View>"""


def tasks_for(photo_dir, *names):
    return [{"id": i, "data": {"image": str(photo_dir / n)}} for i, n in enumerate(names, 1)]


def test_box_controls_are_parsed_and_mapped():
    [box] = parse_box_config(FACES)
    assert (box.from_name, box.to_name, box.data_key, box.kind) == (
        "box",
        "image",
        "image",
        "rectanglelabels",
    )
    assert parse_label_config(FACES, allow_none=True) == []
    with pytest.raises(LabelConfigError, match="RectangleLabels"):
        parse_label_config(FACES)
    [poly] = parse_box_config(MIXED)
    coco = ["person", "dining table", "car", "face"]
    assert poly.class_map(coco) == {"person": "people", "dining table": "Dining tables"}
    assert box.class_map(coco, {"car": "car", "person": "Face"}) == {
        "face": "Face",
        "car": "car",
        "person": "Face",
    }


def test_results_are_label_studio_regions_in_percent():
    control = BoxControl("box", "image", "image", "rectanglelabels", ("dog",), ())
    det = Detection(
        np.array([[50, 20, 150, 70], [-10, 0, 30, 40], [0, 0, 5, 5]], np.float32),
        ("dog", "dog", "kite"),
        np.array([0.9, 0.8, 0.99], np.float32),
        "m",
        200,
        100,
    )
    first, clipped = control.results(det, {"dog": "dog"})  # the kite maps to nothing
    assert first["type"] == "rectanglelabels" and first["score"] == pytest.approx(0.9)
    assert (first["original_width"], first["original_height"]) == (200, 100)
    assert first["value"].pop("rectanglelabels") == ["dog"]
    assert first["value"] == pytest.approx(
        {"x": 25.0, "y": 20.0, "width": 50.0, "height": 50.0, "rotation": 0}
    )
    assert clipped["value"]["x"] == 0 and clipped["value"]["width"] == pytest.approx(15.0)


def test_polygons_follow_the_mask():
    control = BoxControl("poly", "image", "image", "polygonlabels", ("blob",), ())
    mask = np.zeros((1, 100, 200), bool)
    mask[0, 20:60, 40:120] = True
    det = Detection(
        np.array([[0, 0, 200, 100]], np.float32),
        ("blob",),
        np.array([0.7], np.float32),
        "m",
        200,
        100,
        mask,
    )
    [region] = control.results(det, {"blob": "blob"})
    points = np.array(region["value"]["points"])
    assert region["value"]["polygonlabels"] == ["blob"] and len(points) >= 4
    assert points[:, 0].min() == pytest.approx(20, abs=1) and points[:, 0].max() < 61
    assert points[:, 1].min() == pytest.approx(20, abs=1) and points[:, 1].max() < 61


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
