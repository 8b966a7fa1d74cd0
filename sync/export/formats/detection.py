"""COCO and YOLO annotations from the ``boxes`` column (Label Studio RectangleLabels:
``x, y, width, height`` in percent of the image, top-left origin).

COCO: ``annotations/<split>.json`` with pixel ``[x, y, w, h]`` boxes whose ``file_name`` is
relative to the export root. YOLO: ``labels/<split>/<stem>.txt`` lines ``class cx cy w h``
normalised to [0, 1] beside ``images/<split>/``, plus ``data.yaml``. Boxes are clipped to the
image; a box with no area after clipping is dropped (the detection audit reports those).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml


def box_classes(items: pd.DataFrame) -> list[str]:
    return sorted({str(b["label"]) for boxes in items["boxes"] for b in boxes})


def clipped(box: dict) -> tuple[float, float, float, float] | None:
    """``(x0, y0, x1, y1)`` in [0, 1], or None when nothing is left."""
    x0 = min(max(float(box["x"]) / 100, 0.0), 1.0)
    y0 = min(max(float(box["y"]) / 100, 0.0), 1.0)
    x1 = min(max((float(box["x"]) + float(box["width"])) / 100, 0.0), 1.0)
    y1 = min(max((float(box["y"]) + float(box["height"])) / 100, 0.0), 1.0)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def image_size(item: pd.Series) -> tuple[int, int]:
    """Pixels from the records, else from the size Label Studio stored with the boxes."""
    if pd.notna(item.get("width")) and pd.notna(item.get("height")):
        return int(item["width"]), int(item["height"])
    for box in item["boxes"]:
        if box.get("original_width") and box.get("original_height"):
            return int(box["original_width"]), int(box["original_height"])
    raise ValueError(f"task {item['task_id']}: no image size for COCO boxes")


def write_coco(items: pd.DataFrame, root: Path) -> list[Path]:
    classes = box_classes(items)
    category = {name: i + 1 for i, name in enumerate(classes)}
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    written = []
    for split, part in items.groupby("split", sort=True):
        images, annotations = [], []
        for image_id, (_, item) in enumerate(part.sort_values("sha256").iterrows(), start=1):
            w, h = image_size(item)
            images.append(
                {
                    "id": image_id,
                    "file_name": item["path"],
                    "width": w,
                    "height": h,
                    "sha256": item["sha256"],
                }
            )
            for box in item["boxes"]:
                c = clipped(box)
                if c is None:
                    continue
                bbox = [
                    round(c[0] * w, 2),
                    round(c[1] * h, 2),
                    round((c[2] - c[0]) * w, 2),
                    round((c[3] - c[1]) * h, 2),
                ]
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": category[str(box["label"])],
                        "bbox": bbox,
                        "area": round(bbox[2] * bbox[3], 2),
                        "iscrowd": 0,
                    }
                )
        doc = {
            "info": {"description": f"winnow export, split {split}"},
            "images": images,
            "annotations": annotations,
            "categories": [{"id": i, "name": n} for n, i in category.items()],
        }
        path = root / "annotations" / f"{split}.json"
        path.write_text(json.dumps(doc, indent=1))
        written.append(path)
    return written


def write_yolo(items: pd.DataFrame, root: Path) -> Path:
    classes = box_classes(items)
    index = {name: i for i, name in enumerate(classes)}
    for _, item in items.iterrows():
        lines = []
        for box in item["boxes"]:
            c = clipped(box)
            if c is not None:
                cx, cy, bw, bh = (c[0] + c[2]) / 2, (c[1] + c[3]) / 2, c[2] - c[0], c[3] - c[1]
                lines.append(f"{index[str(box['label'])]} {cx:.6f} {cy:.6f} {bw:.6f} {bh:.6f}")
        image = Path(item["path"])
        target = root / "labels" / item["split"] / f"{image.stem}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(f"{line}\n" for line in lines))
    splits = sorted(items["split"].unique())
    data = {"path": ".", "names": dict(enumerate(classes)), **{s: f"images/{s}" for s in splits}}
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return root / "data.yaml"
