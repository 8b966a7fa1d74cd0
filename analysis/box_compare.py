"""Annotated boxes against a detector's: missing, spurious, misplaced and mislabelled boxes.

Cleanlab's ObjectLab (``cleanlab.object_detection.rank``) scores every annotated box for bad
location and swapped class, and every confident predicted box for being overlooked; a box
scoring under ``flag_below`` is reported, with the IoU match that explains it. ObjectLab
leaves one case unscored: an annotated box of a class the detector sees nowhere in the image
(it scores 1.0), and it abstains on a confident detection that overlaps any annotation at
all. So, at half severity (the detector may be the one that is wrong): an annotated box that
no detection of its class overlaps even weakly is spurious, and a confident detection that
no annotation of its class matches at ``missing_iou`` is missing.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.boxes import ISSUE_COLUMNS, BoxCheckOptions, box_finding, iou_matrix
from winnow.detection.base import Detection

_WEAK = 0.5


def compare_with_detections(
    boxes: pd.DataFrame,
    detections: Mapping[str, Detection],
    *,
    options: BoxCheckOptions | None = None,
) -> pd.DataFrame:
    """Findings for every image in ``detections`` (labels already in the project's names).

    ``boxes`` as in :func:`analysis.boxes.box_sanity`; degenerate boxes are skipped here.
    Images with detections but no annotated box are compared too (everything is missing).
    """
    opts = options or BoxCheckOptions()
    valid = boxes[(boxes["x2"] > boxes["x1"]) & (boxes["y2"] > boxes["y1"])]
    annotated = set(valid["path"])
    paths = [p for p in detections if len(detections[p]) or p in annotated]
    if not paths:
        return pd.DataFrame([], columns=ISSUE_COLUMNS)
    classes = sorted(set(valid["label"]) | {n for p in paths for n in detections[p].labels})
    index = {c: k for k, c in enumerate(classes)}
    per_image = {p: g for p, g in valid.groupby("path", sort=False)}
    empty = valid.iloc[:0]
    labels, predictions, order = [], [], []
    for p in paths:
        ann = per_image.get(p, empty)
        labels.append(
            {
                "bboxes": ann[["x1", "y1", "x2", "y2"]].to_numpy(float).reshape(-1, 4),
                "labels": ann["label"].map(index).to_numpy(int),
            }
        )
        pred, ids = _prediction(detections[p], index, len(classes))
        predictions.append(pred)
        order.append(ids)
    scores = _objectlab(labels, predictions, opts)
    rows: list[dict] = []
    for n, p in enumerate(paths):
        ann, det = per_image.get(p, empty), detections[p]
        rows += _missing(p, det, order[n], scores["overlooked"][n], ann, opts)
        rows += _label_box_findings(ann, det, scores["badloc"][n], scores["swap"][n], opts)
    return pd.DataFrame(rows, columns=ISSUE_COLUMNS)


def _prediction(det: Detection, index: dict[str, int], k: int) -> tuple[list[np.ndarray], list]:
    """ObjectLab's format: per class an (M, 5) array ``x1 y1 x2 y2 score``; plus, in the
    order ObjectLab flattens them, the detection index of each row."""
    per_class: list[list[int]] = [[] for _ in range(k)]
    for i, name in enumerate(det.labels):
        per_class[index[name]].append(i)
    arrays = [
        np.column_stack([det.boxes[ids], det.scores[ids]]).reshape(-1, 5).astype(float)
        for ids in per_class
    ]
    return arrays, [i for ids in per_class for i in ids]


def _objectlab(labels: list, predictions: list, opts: BoxCheckOptions) -> dict[str, list]:
    from cleanlab.object_detection import rank

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "overlooked": rank.compute_overlooked_box_scores(
                labels=labels, predictions=predictions, high_probability_threshold=opts.min_score
            ),
            "badloc": rank.compute_badloc_box_scores(
                labels=labels, predictions=predictions, low_probability_threshold=opts.min_score
            ),
            "swap": [
                np.atleast_1d(s)
                for s in rank.compute_swap_box_scores(
                    labels=labels,
                    predictions=predictions,
                    high_probability_threshold=opts.min_score,
                    overlapping_label_check=False,
                )
            ],
        }


def _missing(
    path: str,
    det: Detection,
    order: list[int],
    overlooked: np.ndarray,
    ann: pd.DataFrame,
    opts: BoxCheckOptions,
) -> list[dict]:
    ann_boxes = ann[["x1", "y1", "x2", "y2"]].to_numpy(float)
    rows = []
    same_class = ann["label"].to_numpy(object)
    for j, i in enumerate(order):
        best = iou_matrix(det.boxes[i : i + 1], ann_boxes).max(initial=0.0)
        score = 1.0 - overlooked[j] if overlooked[j] < opts.flag_below else None
        if score is None and det.scores[i] >= opts.min_score:
            mine = ann_boxes[same_class == det.labels[i]]
            if iou_matrix(det.boxes[i : i + 1], mine).max(initial=0.0) < opts.missing_iou:
                score = _WEAK * float(det.scores[i])  # overlaps others: ObjectLab abstains
        if score is None:
            continue
        x1, y1, x2, y2 = det.boxes[i]
        rows.append(
            {
                "path": path,
                "issue_type": "box_missing",
                "score": round(score, 4),
                "group": f"{path}#det{i}",
                "given_label": None,
                "suggested_label": det.labels[i],
                "details": f"detector sees {det.labels[i]} ({det.scores[i]:.2f}) at "
                f"[{x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f}]; best annotation IoU {best:.2f}",
            }
        )
    return rows


def _label_box_findings(
    ann: pd.DataFrame, det: Detection, badloc: np.ndarray, swap: np.ndarray, opts: BoxCheckOptions
) -> list[dict]:
    if not len(ann):
        return []
    iou = iou_matrix(ann[["x1", "y1", "x2", "y2"]].to_numpy(float), det.boxes)
    labels = np.asarray(det.labels, dtype=object)
    rows = []
    for j, (i, box) in enumerate(ann.iterrows()):
        same = (labels == box["label"]) & (det.scores >= opts.min_score)
        other = (labels != box["label"]) & (det.scores >= opts.min_score)
        best_same = iou[j][same].max(initial=0.0)
        if swap[j] < opts.flag_below and other.any():
            k = np.flatnonzero(other)[np.argmax(iou[j][other])]
            rows.append(
                box_finding(
                    i,
                    box,
                    "box_wrong_label",
                    1.0 - swap[j],
                    f"detector sees {labels[k]} ({det.scores[k]:.2f}) here, IoU {iou[j, k]:.2f}",
                    suggested=labels[k],
                )
            )
        elif badloc[j] < opts.flag_below:
            kind = "box_misplaced" if best_same >= opts.match_iou else "box_spurious"
            rows.append(
                box_finding(
                    i,
                    box,
                    kind,
                    1.0 - badloc[j],
                    f"best {box['label']} detection IoU {best_same:.2f}",
                )
            )
        elif iou[j][labels == box["label"]].max(initial=0.0) < opts.match_iou:
            rows.append(
                box_finding(
                    i,
                    box,
                    "box_spurious",
                    _WEAK,
                    f"no {box['label']} detection overlaps it, even a weak one",
                )
            )
    return rows
