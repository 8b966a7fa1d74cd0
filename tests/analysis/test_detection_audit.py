"""The detection audit: counts, questions, PII from real faces, task fields, project boxes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from skimage import data

from analysis.detection_audit import (
    DetectionAuditOptions,
    detection_audit,
    object_fields,
    project_boxes,
    task_object_fields,
)
from analysis.questions import QuestionError, parse_question
from winnow.detection.base import Detection
from winnow.detection.faces import HaarFaceDetector

COCO = ["person", "car", "dining table", "swimming pool"]  # a detector's classes


def det(*items: tuple[str, float], size: tuple[int, int] = (100, 80)) -> Detection:
    boxes = np.array([[10 * i, 10, 10 * i + 20, 40] for i in range(len(items))], np.float32)
    return Detection(
        boxes.reshape(-1, 4),
        tuple(n for n, _ in items),
        np.array([s for _, s in items], np.float32),
        "m@1",
        *size,
    )


@pytest.fixture(scope="module")
def faces() -> dict[str, Detection]:
    haar = HaarFaceDetector()
    return dict(zip(["astro", "cat"], haar.detect([data.astronaut(), data.chelsea()]), strict=True))


def test_questions_parse_safely_and_answer():
    q = parse_question("person_count > 1 and faces >= 1 or contains: swimming pools", COCO)
    assert q.column == "q_person_count_gt_1_and_faces_ge_1_or_contains_swimming_pools"
    assert q({"person_count": 2, "faces": 1}) and q({"swimming_pool_count": 1})
    assert not q({"person_count": 2, "faces": 0})
    assert parse_question("not contains: car", COCO)({"person_count": 3})
    for bad in [
        "contains: unicorn",
        "__import__('os').system('x')",
        "person_count >> 1",
        "dog_count > 0",
    ]:
        with pytest.raises(QuestionError):
            parse_question(bad, COCO)


def test_audit_counts_people_faces_and_flags_pii(faces):
    files = pd.DataFrame({"uri": ["a.jpg", "b.jpg", "c.jpg"], "sha256": ["astro", "cat", "x"]})
    objects = {
        "astro": det(("person", 0.9), ("person", 0.3)),
        "cat": det(("car", 0.8), ("car", 0.7), ("dining table", 0.6)),
    }
    opts = DetectionAuditOptions(questions=("person_count > 0", "contains: car"))
    result = detection_audit(files, objects, faces, classes=[*COCO, "face"], options=opts)
    f = result.files.set_index("uri")
    assert f.loc["a.jpg", "person_count"] == 1  # the 0.3 person is under min_score
    assert list(f["faces"]) == [1, 0, 0] and list(f["car_count"]) == [0, 2, 0]
    assert list(f["pii"]) == [True, False, False]
    assert list(f["q_person_count_gt_0"]) == [True, False, False]
    assert list(f["q_contains_car"]) == [False, True, False]
    [pii] = result.issues.to_dict("records")
    assert pii["path"] == "a.jpg" and pii["issue_type"] == "pii" and pii["score"] == 1.0
    people_only = detection_audit(files[1:2], {"cat": det(("person", 0.9))}, {})
    assert people_only.issues.iloc[0]["score"] == 0.6


def test_task_fields_for_label_studio(faces):
    fields = object_fields(
        det(("person", 0.9), ("car", 0.95)),
        faces["astro"],
        questions=[parse_question("contains: car", COCO)],
    )
    assert fields == {
        "winnow_person_count": 1,
        "winnow_car_count": 1,
        "winnow_faces": 1,
        "winnow_pii": True,
        "winnow_objects": "car:1, person:1",
        "winnow_q_contains_car": True,
    }
    frame = pd.DataFrame({"task_id": [4, 5, 6], "sha256": ["cat", None, "astro"]})
    by_task = task_object_fields(frame, {}, faces)
    assert sorted(by_task) == [4, 6] and by_task[6]["winnow_pii"] and not by_task[4]["winnow_pii"]


def test_project_boxes_are_checked_against_mapped_detections():
    frame = pd.DataFrame(
        {
            "task_id": [1],
            "image": ["/data/1.jpg"],
            "boxes": [
                [
                    {
                        "label": "Person",
                        "x": 10.0,
                        "y": 12.5,
                        "width": 20.0,
                        "height": 37.5,
                        "original_width": 100,
                        "original_height": 80,
                    },
                    {
                        "label": "diningtable",
                        "x": 60.0,
                        "y": 10.0,
                        "width": 0.0,
                        "height": 10.0,
                        "original_width": 100,
                        "original_height": 80,
                    },
                ]
            ],
        }
    )
    boxes = project_boxes(frame)
    np.testing.assert_allclose(
        boxes.loc[0, ["x1", "y1", "x2", "y2"]].to_numpy(float), [10, 10, 30, 40]
    )
    # the detector sees the person where it is annotated, and a second, unannotated one
    objects = {"s": det(("person", 0.95), ("person", 0.9), ("dining table", 0.2))}
    objects["s"].boxes[:2] = [[11, 10, 30, 41], [60, 40, 90, 75]]
    files = pd.DataFrame({"uri": ["/data/1.jpg"], "sha256": ["s"]})
    result = detection_audit(
        files, objects, {}, boxes=boxes, project_labels=["Person", "diningtable"]
    )
    kinds = sorted(result.issues["issue_type"])
    assert kinds == ["box_degenerate", "box_missing", "pii"]
    missing = result.issues[result.issues["issue_type"] == "box_missing"].iloc[0]
    assert missing["suggested_label"] == "Person" and "[60, 40, 90, 75]" in missing["details"]
