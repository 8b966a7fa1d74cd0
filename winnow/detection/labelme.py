"""labelme JSON annotations as box rows: rectangles as they are, polygons by their extent
(and as masks when asked). Debian's ``labelme-examples`` ships real annotated photos in this
format and in COCO; the box-check tests and benchmark use both."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from winnow.detection.coco import COLUMNS
from winnow.errors import ConfigError

LABELME_EXAMPLES = Path("/usr/share/doc/labelme-examples/examples")
IGNORED = {"__ignore__", "_background_"}


def load_labelme(path: Path, *, masks: bool = False) -> pd.DataFrame:
    """One row per rectangle or polygon in a labelme file; ``path`` column = the image."""
    try:
        data = json.loads(Path(path).read_text())
        width, height, shapes = int(data["imageWidth"]), int(data["imageHeight"]), data["shapes"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a readable labelme file: {exc}") from exc
    image = str(Path(path).parent / data.get("imagePath", Path(path).with_suffix(".jpg").name))
    rows = []
    for shape in shapes:
        if shape["label"] in IGNORED or shape.get("shape_type") not in ("rectangle", "polygon"):
            continue
        points = np.asarray(shape["points"], float).reshape(-1, 2)
        (x1, y1), (x2, y2) = points.min(axis=0), points.max(axis=0)
        mask = None
        if masks and shape["shape_type"] == "polygon":
            import cv2

            canvas = np.zeros((height, width), np.uint8)
            cv2.fillPoly(canvas, [points.round().astype(np.int32)], 1)
            mask = canvas.astype(bool)
        rows.append([image, shape["label"], x1, y1, x2, y2, width, height, mask])
    return pd.DataFrame(rows, columns=COLUMNS)


def example_boxes(*, masks: bool = False) -> pd.DataFrame:
    """Every real box of ``labelme-examples``: the COCO instance set (VOC photos), the video
    frames and the tutorial photo. Empty when the Debian package is not installed."""
    from winnow.detection.coco import load_coco

    coco = LABELME_EXAMPLES / "instance_segmentation" / "data_dataset_coco" / "annotations.json"
    if not coco.exists():
        return pd.DataFrame([], columns=COLUMNS)
    frames = [load_coco(coco, masks=masks)[0]]
    labelme = sorted((LABELME_EXAMPLES / "video_annotation" / "data_annotated").glob("*.json"))
    labelme.append(LABELME_EXAMPLES / "tutorial" / "apc2016_obj3.json")
    frames += [load_labelme(p, masks=masks) for p in labelme if p.exists()]
    return pd.concat(frames, ignore_index=True)
