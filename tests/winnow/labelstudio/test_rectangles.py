"""RectangleLabels/PolygonLabels controls: parsed from the config, and detections turned into
Label Studio regions (checked field by field)."""

from __future__ import annotations

import numpy as np
import pytest
from model_fixtures import FACES, MIXED

from winnow.detection.base import Detection
from winnow.labelstudio.controls.parse import LabelConfigError, parse_box_config, parse_label_config
from winnow.labelstudio.controls.rectangles import BoxControl


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
