"""The Haar face detector on real photos, and the detection cache in the feature store."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from skimage import data

from winnow.config import DetectionSettings
from winnow.detection import make_detector, make_face_detector
from winnow.detection.base import Detection
from winnow.detection.faces import HaarFaceDetector
from winnow.detection.run import detect_cached
from winnow.errors import DecodeError, ModelError
from winnow.store.detections import DetectionStore


@pytest.fixture(scope="module")
def faces() -> HaarFaceDetector:
    return HaarFaceDetector()


def test_finds_the_astronauts_face(faces):
    [det] = faces.detect([data.astronaut()])
    assert det.labels == ("face",)
    x1, y1, x2, y2 = det.boxes[0]
    # Eileen Collins' face sits around x 180-270, y 60-160 in the 512x512 photo.
    assert 150 < x1 < 200 and 240 < x2 < 300 and 40 < y1 < 100 and 140 < y2 < 190


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket"])
def test_no_face_in_photos_without_people(faces, name):
    assert len(faces.detect([getattr(data, name)()])[0]) == 0


def test_large_images_are_searched_downscaled_but_answered_in_full_pixels(faces):
    from PIL import Image

    big = np.asarray(Image.fromarray(data.astronaut()).resize((1600, 1600), Image.BICUBIC))
    [det] = faces.detect([big])
    assert (det.width, det.height) == (1600, 1600)
    small = faces.detect([data.astronaut()])[0].boxes[0]
    # the biggest face comes first, where the 512-pixel photo has it, times 1600/512
    np.testing.assert_allclose(det.boxes[0], small * 1600 / 512, atol=40)


def test_factories(faces):
    assert isinstance(make_face_detector(DetectionSettings(faces="haar")), HaarFaceDetector)
    assert make_face_detector(DetectionSettings(faces="none")) is None
    assert make_detector(DetectionSettings(backend="haar")).classes == ("face",)


def test_detectron2_missing_is_a_clear_error():
    if importlib.util.find_spec("detectron2") is not None:
        pytest.skip("detectron2 is installed here; this checks the message shown without it")
    with pytest.raises(ModelError, match="not on PyPI"):
        make_detector(DetectionSettings(backend="detectron2"))


def test_detectron2_zoo_configs_resolve():
    pytest.importorskip(
        "detectron2",
        reason="detectron2 is not installed (not on PyPI; it is "
        "built from source, see docs/detection.md)",
    )
    from winnow.detection.detectron2_backend import import_detectron2, zoo_name

    model_zoo = import_detectron2()
    for name in (
        zoo_name("fasterrcnn_resnet50_fpn_v2"),
        "COCO-Detection/faster_rcnn_R_50_FPN_3x.yaml",
    ):
        assert Path(model_zoo.get_config_file(name)).is_file()


def test_cache_round_trip_with_masks(tmp_path: Path):
    masks = np.zeros((2, 30, 40), bool)
    masks[0, 5:10, 5:20] = True
    det = Detection(
        np.array([[5, 5, 20, 10], [0, 0, 40, 30]], np.float32),
        ("dog", "person"),
        np.array([0.9, 0.4], np.float32),
        "m@1",
        40,
        30,
        masks,
    )
    with DetectionStore(tmp_path / "features.sqlite") as store:
        store.put({"abc": det})
        assert store.get(["abc", "zzz"], "m@2") == {}
        got = store.get(["abc", "zzz"], "m@1")["abc"]
    assert got.labels == det.labels and got.masks is not None
    np.testing.assert_array_equal(got.masks, masks)
    np.testing.assert_array_equal(got.boxes, det.boxes)
    assert got.confident(0.5).labels == ("dog",) and got.counts() == {"dog": 1, "person": 1}


def test_detect_cached_runs_each_content_once_and_skips_unreadable(tmp_path: Path, faces):
    images = {"a": data.astronaut(), "c": data.chelsea()}
    loads = []

    def load(sha: str) -> np.ndarray:
        loads.append(sha)
        if sha == "bad":
            raise DecodeError(sha, "truncated", kind="truncated")
        return images[sha]

    with DetectionStore(tmp_path / "f.sqlite") as store:
        first = detect_cached(faces, ["a", "c", "a", "bad"], load, store)
        second = detect_cached(faces, ["a", "c"], load, store)
    assert sorted(first) == ["a", "c"] and len(first["a"]) == 1 and len(first["c"]) == 0
    assert sorted(loads) == ["a", "bad", "c"]  # the second run came from the cache
    np.testing.assert_array_equal(second["a"].boxes, first["a"].boxes)


def test_yunet_needs_its_model_file(tmp_path: Path):
    with pytest.raises(ModelError, match="face_model is unset"):
        make_face_detector(DetectionSettings(faces="yunet"))
    with pytest.raises(ModelError, match="does not exist"):
        make_face_detector(DetectionSettings(faces="yunet", face_model=tmp_path / "no.onnx"))


def test_yunet_finds_the_astronauts_face():
    model = os.environ.get("WINNOW_TEST_YUNET_MODEL")
    if not model:
        pytest.skip("no YuNet ONNX file offline; set WINNOW_TEST_YUNET_MODEL to run this")
    detector = make_face_detector(DetectionSettings(faces="yunet", face_model=Path(model)))
    [det] = detector.detect([data.astronaut()])
    assert len(det) >= 1 and 150 < det.boxes[0, 0] < 220 and det.scores[0] > 0.5
