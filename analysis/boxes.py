"""Checks of annotated boxes: sanity on their own, then against a detector's boxes.

Pure. Annotations are a frame with one row per box: ``path`` (the image), ``label``,
``x1, y1, x2, y2`` in pixels, ``img_width, img_height`` and optionally ``mask`` (a bool array
or None). Findings come back in the audit's ``ISSUE_COLUMNS`` shape; ``group`` names the box
(``<path>#<row>``) so a reviewer can find it.

Missing, spurious, misplaced and mislabelled boxes use Cleanlab's ObjectLab scores
(``cleanlab.object_detection.rank``) as the engine; an IoU match with the detector's boxes
supplies the reason given for each one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.findings import ISSUE_COLUMNS
from analysis.validation import require_columns

BOX_ISSUE_TYPES = (
    "box_out_of_bounds",
    "box_degenerate",
    "box_duplicate",
    "box_unknown_label",
    "box_bad_mask",
    "box_missing",
    "box_spurious",
    "box_misplaced",
    "box_wrong_label",
)
BOX_COLUMNS = ["path", "label", "x1", "y1", "x2", "y2", "img_width", "img_height"]


@dataclass(frozen=True)
class BoxCheckOptions:
    duplicate_iou: float = 0.85  # two annotations this similar are one object labelled twice
    bounds_tolerance: float = 1.0  # pixels beyond the edge forgiven (rounding in tools)
    min_score: float = 0.5  # a detection this confident counts as "the detector sees it"
    flag_below: float = 0.5  # ObjectLab per-box score under which a box is reported
    match_iou: float = 0.1  # a detection overlapping a box this much is "at" that box
    missing_iou: float = 0.3  # a confident detection matching no annotation this well: missing


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), xyxy."""
    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def box_sanity(
    boxes: pd.DataFrame,
    *,
    classes: Sequence[str] | None = None,
    options: BoxCheckOptions | None = None,
) -> pd.DataFrame:
    """Out of bounds, zero or negative area, duplicates, unknown labels, bad masks."""
    opts = options or BoxCheckOptions()
    require_columns(boxes, BOX_COLUMNS)
    rows: list[dict] = []
    known = None if classes is None else set(classes)
    for i, box in boxes.iterrows():
        rows += _single_box(i, box, known, opts)
    for _, same_image in boxes.groupby("path", sort=False):
        rows += _duplicates(same_image, opts)
    return pd.DataFrame(rows, columns=ISSUE_COLUMNS)


def box_finding(
    i: object, box: pd.Series, issue: str, score: float, details: str, suggested: str | None = None
) -> dict:
    coords = ", ".join(f"{box[c]:.0f}" for c in ("x1", "y1", "x2", "y2"))
    return {
        "path": box["path"],
        "issue_type": issue,
        "score": round(float(score), 4),
        "group": f"{box['path']}#{i}",
        "given_label": box["label"],
        "suggested_label": suggested,
        "details": f"box [{coords}]: {details}",
    }


def _single_box(
    i: object, box: pd.Series, known: set[str] | None, opts: BoxCheckOptions
) -> list[dict]:
    rows = []
    x1, y1, x2, y2 = (float(box[c]) for c in ("x1", "y1", "x2", "y2"))
    w, h = float(box["img_width"]), float(box["img_height"])
    if not np.isfinite([x1, y1, x2, y2]).all() or x2 <= x1 or y2 <= y1:
        rows.append(
            box_finding(
                i, box, "box_degenerate", 1.0, f"width {x2 - x1:.1f}, height {y2 - y1:.1f} px"
            )
        )
    else:
        t = opts.bounds_tolerance
        if x1 < -t or y1 < -t or x2 > w + t or y2 > h + t:
            inside = max(0.0, min(x2, w) - max(x1, 0)) * max(0.0, min(y2, h) - max(y1, 0))
            outside = 1.0 - inside / ((x2 - x1) * (y2 - y1))
            rows.append(
                box_finding(
                    i,
                    box,
                    "box_out_of_bounds",
                    0.5 + 0.5 * outside,
                    f"{outside:.0%} outside the {w:.0f}x{h:.0f} image",
                )
            )
    if known is not None and box["label"] not in known:
        rows.append(
            box_finding(
                i,
                box,
                "box_unknown_label",
                1.0,
                f"label {box['label']!r} is not in the label config",
            )
        )
    mask = box.get("mask")
    if isinstance(mask, np.ndarray):
        if mask.shape[:2] != (int(h), int(w)):
            rows.append(
                box_finding(
                    i,
                    box,
                    "box_bad_mask",
                    1.0,
                    f"mask is {mask.shape[1]}x{mask.shape[0]}, image {w:.0f}x{h:.0f}",
                )
            )
        elif not mask.any():
            rows.append(box_finding(i, box, "box_bad_mask", 1.0, "mask is empty"))
    return rows


def _duplicates(same_image: pd.DataFrame, opts: BoxCheckOptions) -> list[dict]:
    coords = same_image[["x1", "y1", "x2", "y2"]].to_numpy(float)
    iou = np.triu(iou_matrix(coords, coords), k=1)
    rows, seen = [], set()
    for a, b in zip(*np.nonzero(iou >= opts.duplicate_iou), strict=True):
        if b in seen:
            continue
        seen.add(b)
        first, second = same_image.iloc[a], same_image.iloc[b]
        same = first["label"] == second["label"]
        what = "the same label" if same else f"label {first['label']!r}"
        rows.append(
            box_finding(
                same_image.index[b],
                second,
                "box_duplicate",
                float(iou[a, b]),
                f"IoU {iou[a, b]:.2f} with box {same_image.index[a]} ({what})",
            )
        )
    return rows
