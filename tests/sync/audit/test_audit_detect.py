"""`winnow audit DIR --detect --boxes coco.json` and the project-level detection audit, on real
photos (skimage, labelme-examples) with deliberately damaged COCO boxes. Offline, the object
detector has no weights: the audit must say so and still report faces, PII and boxes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from skimage import data
from typer.testing import CliRunner

from sync.audit.detect import detect_project
from winnow.cli.app import build_app
from winnow.config import get_settings
from winnow.detection.faces import HaarFaceDetector
from winnow.detection.labelme import LABELME_EXAMPLES

COCO_DIR = LABELME_EXAMPLES / "instance_segmentation" / "data_dataset_coco"
pytestmark = pytest.mark.skipif(not COCO_DIR.exists(), reason="needs Debian labelme-examples")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("detect-audit")
    for name in ("astronaut", "chelsea"):
        Image.fromarray(getattr(data, name)()).save(root / f"{name}.jpg", quality=92)
    shutil.copytree(COCO_DIR / "JPEGImages", root / "JPEGImages")
    coco = json.loads((COCO_DIR / "annotations.json").read_text())
    coco["annotations"][0]["bbox"][2] = 900  # runs far past the 500-pixel edge
    coco["annotations"].append(dict(coco["annotations"][1], id=99))  # the same box twice
    (root / "boxes.json").write_text(json.dumps(coco))
    return root


def test_audit_detect_reports_pii_and_damaged_boxes(folder, tmp_path, monkeypatch):
    monkeypatch.setenv("WINNOW_DATA_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("WINNOW_DETECTION__DOWNLOAD", "false")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no cached COCO weights
    out = tmp_path / "out"
    args = [
        "audit",
        str(folder),
        "--out",
        str(out),
        "--layout",
        "flat",
        "--no-embed",
        "--detect",
        "--boxes",
        str(folder / "boxes.json"),
        "-q",
        "faces > 0",
    ]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert "object detection skipped" in result.output and "detection.checkpoint" in result.output
    issues = pd.read_csv(out / "issues.csv")
    pii = set(issues.loc[issues["issue_type"] == "pii", "path"].map(lambda p: Path(p).name))
    assert "astronaut.jpg" in pii and "chelsea.jpg" not in pii
    boxes = issues[issues["issue_type"].str.startswith("box_")]
    assert sorted(boxes["issue_type"]) == ["box_duplicate", "box_out_of_bounds"]
    assert set(boxes["path"].map(lambda p: Path(p).name)) == {"2011_000003.jpg"}
    images = pd.read_parquet(out / "images.parquet").set_index("uri")
    by_name = images.rename(index=lambda p: Path(p).name)
    assert by_name.loc["astronaut.jpg", "q_faces_gt_0"] and by_name.loc["astronaut.jpg", "pii"]
    assert not by_name.loc["chelsea.jpg", "q_faces_gt_0"]
    assert "box_out_of_bounds" in result.output and "pii" in result.output


def test_detect_project_gives_task_fields_and_box_findings(folder, tmp_path):
    settings = get_settings(
        data_dir=tmp_path / "store",
        io={"local_roots": [folder]},
        detection={"questions": ["contains: face"]},
    )
    frame = pd.DataFrame(
        {
            "task_id": [1, 2],
            "image": [str(folder / "astronaut.jpg"), str(folder / "chelsea.jpg")],
            "sha256": [None, None],
            "boxes": [
                [
                    {
                        "label": "face",
                        "x": 35.0,
                        "y": 13.0,
                        "width": 18.0,
                        "height": 18.0,
                        "original_width": 512,
                        "original_height": 512,
                    }
                ],
                [
                    {
                        "label": "face",
                        "x": 10.0,
                        "y": 10.0,
                        "width": 20.0,
                        "height": 20.0,
                        "original_width": 451,
                        "original_height": 300,
                    }
                ],
            ],
        }
    )
    result, fields = detect_project(
        settings, frame, project_labels=["face"], detector=HaarFaceDetector()
    )
    assert fields[1]["winnow_pii"] and fields[1]["winnow_face_count"] == 1
    assert fields[1]["winnow_q_contains_face"] and not fields[2]["winnow_q_contains_face"]
    assert fields[2] == {
        "winnow_faces": 0,
        "winnow_pii": False,
        "winnow_objects": "",
        "winnow_q_contains_face": False,
    }
    spurious = result.issues[result.issues["issue_type"] == "box_spurious"]
    assert list(spurious["path"]) == [str(folder / "chelsea.jpg")]  # a "face" on the cat
    assert not result.issues["issue_type"].isin(["box_missing", "box_misplaced"]).any()
