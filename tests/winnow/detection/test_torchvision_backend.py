"""The real torchvision detection architectures, run with random weights (plumbing only):
no COCO weights ship offline, so the boxes mean nothing, but shapes, names, masks, the
cache and the missing-weights errors are real."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from skimage import data

from winnow.config import DetectionSettings
from winnow.detection import make_detector
from winnow.detection.torchvision_backend import MODELS, TorchvisionDetector
from winnow.errors import ModelError, WeightsUnavailableError

SMALL = {"min_size": 96, "max_size": 128}


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return data.astronaut()[::4, ::4].copy()  # 128x128 real photo


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("fasterrcnn_mobilenet_v3_large_320_fpn", SMALL),
        ("maskrcnn_resnet50_fpn", SMALL),
        ("retinanet_resnet50_fpn", SMALL),
        ("ssdlite320_mobilenet_v3_large", {}),
    ],
)
def test_architectures_return_coco_names_and_pixel_boxes(name, size, photo):
    detector = TorchvisionDetector.untrained(name, **size)
    assert "person" in detector.classes and "N/A" not in detector.classes
    assert len(detector.classes) == 80
    [det] = detector.detect([photo])
    assert det.model_version == f"{name}@random-seed0"
    assert (det.width, det.height) == (128, 128)
    assert det.boxes.dtype == np.float32 and det.boxes.shape == (len(det), 4)
    assert set(det.labels) <= set(detector.classes)
    assert ((det.scores >= 0.05) & (det.scores <= 1)).all()
    if len(det):
        assert (det.boxes[:, 2] >= det.boxes[:, 0]).all() and (det.boxes[:, :2] >= 0).all()
        assert (det.boxes[:, 2] <= 128).all() and (det.boxes[:, 3] <= 128).all()
    if name.startswith("maskrcnn"):  # seed 0 proposes boxes: the post-processing runs for real
        assert len(det) > 0 and detector.has_masks and det.masks is not None
        assert det.masks.shape == (len(det), 128, 128) and det.masks.dtype == bool
    else:
        assert det.masks is None


def test_checkpoint_round_trip_gives_the_same_detections(tmp_path: Path, photo):
    import torch

    source = TorchvisionDetector.untrained("fasterrcnn_mobilenet_v3_large_320_fpn", seed=3)
    path = tmp_path / "coco.pth"
    torch.save({"model": source.model.state_dict()}, path)
    loaded = make_detector(DetectionSettings(model=source.name, checkpoint=path))
    assert loaded.model_version.startswith(f"{source.name}@")
    a, b = source.detect([photo])[0], loaded.detect([photo])[0]
    assert a.labels == b.labels
    np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-4)


def test_missing_weights_name_the_setting(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache
    with pytest.raises(WeightsUnavailableError, match="detection.checkpoint"):
        make_detector(DetectionSettings(model="ssdlite320_mobilenet_v3_large", download=False))
    with pytest.raises(WeightsUnavailableError, match="does not exist"):
        make_detector(DetectionSettings(checkpoint=tmp_path / "nope.pth"))


def test_bad_checkpoint_and_unknown_model_are_clear(tmp_path: Path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="not a torch state dict"):
        make_detector(DetectionSettings(checkpoint=junk))
    with pytest.raises(ModelError, match="unknown torchvision detector"):
        make_detector(DetectionSettings(model="yolo9000"))
    assert "fasterrcnn_resnet50_fpn_v2" in MODELS
