"""COCO annotation files as the box frame the box checks read (one row per box).

``bbox`` is ``[x, y, width, height]`` in pixels; polygons in ``segmentation`` become masks
when asked for. Image paths are resolved against ``image_root`` (default: the JSON's folder).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.errors import ConfigError

COLUMNS = ["path", "label", "x1", "y1", "x2", "y2", "img_width", "img_height", "mask"]


def load_coco(
    path: Path, *, image_root: Path | None = None, masks: bool = False
) -> tuple[pd.DataFrame, list[str]]:
    """The boxes of a COCO file and its category names (in category-id order)."""
    try:
        data = json.loads(Path(path).read_text())
        images = {im["id"]: im for im in data["images"]}
        names = {c["id"]: c["name"] for c in data["categories"]}
        annotations = data["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a readable COCO annotation file: {exc}") from exc
    root = Path(image_root) if image_root else Path(path).parent
    rows = []
    for ann in annotations:
        image = images[ann["image_id"]]
        x, y, w, h = (float(v) for v in ann["bbox"])
        width, height = int(image["width"]), int(image["height"])
        mask = _polygon_mask(ann.get("segmentation"), height, width) if masks else None
        rows.append(
            [
                str(root / image["file_name"]),
                names[ann["category_id"]],
                x,
                y,
                x + w,
                y + h,
                width,
                height,
                mask,
            ]
        )
    return pd.DataFrame(rows, columns=COLUMNS), [names[k] for k in sorted(names)]


def _polygon_mask(segmentation: object, height: int, width: int) -> np.ndarray | None:
    if not isinstance(segmentation, list) or not segmentation:
        return None  # RLE or absent: not decoded here
    import cv2

    mask = np.zeros((height, width), np.uint8)
    for polygon in segmentation:
        points = np.asarray(polygon, float).reshape(-1, 2).round().astype(np.int32)
        cv2.fillPoly(mask, [points], 1)
    return mask.astype(bool)
