"""Box checks on the real labelme-examples annotations (Debian), deliberately damaged.

The "detector" for the missing/spurious checks is the clean annotation set itself, jittered
by a few pixels with confident scores, plus weak random boxes: what a good detector would
say. The damaged copy must then be caught box by box, and the clean copy left alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.box_compare import compare_with_detections
from analysis.boxes import BoxCheckOptions, box_sanity, iou_matrix
from winnow.detection.base import Detection
from winnow.detection.labelme import example_boxes

pytestmark = pytest.mark.skipif(example_boxes().empty, reason="needs Debian labelme-examples")


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return example_boxes(masks=True)


def oracle(boxes: pd.DataFrame, seed: int = 0) -> dict[str, Detection]:
    """A good detector's view of ``boxes``: every object found, a little off, plus noise."""
    rng = np.random.default_rng(seed)
    found = {}
    for path, group in boxes.groupby("path", sort=False):
        w, h = int(group["img_width"].iloc[0]), int(group["img_height"].iloc[0])
        xy = group[["x1", "y1", "x2", "y2"]].to_numpy(np.float32, copy=True)
        xy += rng.normal(0, 2, xy.shape).astype(np.float32)
        weak = rng.uniform(0, [w, h, w, h], (3, 4)).astype(np.float32)
        weak = np.column_stack(
            [np.minimum(weak[:, :2], weak[:, 2:]), np.maximum(weak[:, :2], weak[:, 2:])]
        )
        labels = (*group["label"], *rng.choice(sorted(boxes["label"].unique()), 3))
        scores = np.concatenate([rng.uniform(0.8, 0.99, len(group)), rng.uniform(0.05, 0.2, 3)])
        found[path] = Detection(
            np.vstack([xy, weak]), tuple(labels), scores.astype(np.float32), "oracle", w, h
        )
    return found


def test_iou_matrix():
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 5]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], float)
    np.testing.assert_allclose(iou_matrix(a, b), [[1, 50 / 150, 0], [0, 0, 0]])


def test_clean_annotations_pass_every_check(clean):
    assert len(clean) >= 30 and clean["path"].nunique() >= 9
    assert box_sanity(clean, classes=sorted(clean["label"].unique())).empty
    assert compare_with_detections(clean, oracle(clean)).empty


def test_sanity_finds_each_deliberate_damage(clean):
    bad = clean.copy()
    w = bad.loc[0, "img_width"]
    bad.loc[0, ["x1", "x2"]] = [w - 40, w + 60]  # 60% outside the image
    bad.loc[1, "x2"] = bad.loc[1, "x1"]  # zero width
    bad.loc[2, ["y1", "y2"]] = [50, 20]  # negative height
    bad.loc[3, "label"] = "unicorn"
    bad.at[4, "mask"] = np.ones((10, 10), bool)  # the wrong size
    bad.at[5, "mask"] = np.zeros_like(clean.loc[5, "mask"])  # empty
    twin = bad.loc[[6]].assign(x1=bad.loc[6, "x1"] + 1)  # the same object twice
    bad = pd.concat([bad, twin.set_axis([100])])
    found = box_sanity(bad, classes=sorted(clean["label"].unique()))
    got = sorted(zip(found["group"].str.rsplit("#").str[1], found["issue_type"], strict=True))
    assert got == [
        ("0", "box_out_of_bounds"),
        ("1", "box_degenerate"),
        ("100", "box_duplicate"),
        ("2", "box_degenerate"),
        ("3", "box_unknown_label"),
        ("4", "box_bad_mask"),
        ("5", "box_bad_mask"),
    ]
    oob = found[found["issue_type"] == "box_out_of_bounds"].iloc[0]
    assert oob["score"] == pytest.approx(0.8) and "60% outside" in oob["details"]
    assert (
        found["path"]
        == bad.loc[found["group"].str.rsplit("#").str[1].astype(int), "path"].to_numpy()
    ).all()


def test_comparison_finds_missing_spurious_shifted_and_relabelled(clean):
    truth = oracle(clean)
    bad = clean.drop(index=[7])  # a person left unannotated
    bad.loc[12, ["x1", "x2"]] += 120  # a track box slid off its object
    bad.loc[14, "label"] = "track"  # a car called a track
    ghost = clean.loc[[0]].assign(x1=5.0, y1=5.0, x2=60.0, y2=60.0)  # a person where none is
    bad = pd.concat([bad, ghost.set_axis([200])])
    found = compare_with_detections(bad, truth)
    kinds = dict(zip(found["group"].str.rsplit("#").str[1], found["issue_type"], strict=True))
    assert kinds.pop("200") == "box_spurious"
    assert kinds.pop("14") == "box_wrong_label"
    assert kinds.pop("12") in {"box_misplaced", "box_spurious"}
    missing = found[found["issue_type"] == "box_missing"]
    lost = clean.loc[7, ["x1", "y1", "x2", "y2"]].to_numpy(float)[None]
    assert any(
        iou_matrix(truth[p].boxes[int(g.rsplit("#det", 1)[1])][None], lost)[0, 0] > 0.8
        for p, g in zip(missing["path"], missing["group"], strict=True)
    )
    wrong = found[found["issue_type"] == "box_wrong_label"].iloc[0]
    assert wrong["given_label"] == "track" and wrong["suggested_label"] == "car"
    # besides those: the box the slid track left behind (a "missing" object) and nothing else
    assert set(kinds.values()) <= {"box_missing"} and len(missing) <= 2


def test_a_stricter_threshold_finds_less(clean):
    truth = oracle(clean)
    bad = clean.copy()
    bad.loc[12, ["x1", "x2"]] += 40  # shifted a little
    loose = compare_with_detections(bad, truth, options=BoxCheckOptions(flag_below=0.5))
    strict = compare_with_detections(bad, truth, options=BoxCheckOptions(flag_below=0.01))
    assert len(strict) <= len(loose)
