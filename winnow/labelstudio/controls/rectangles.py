"""``<RectangleLabels>`` and ``<PolygonLabels>`` bound to an ``<Image>``: detection projects.

Each ``<Label>`` is a project label; the detector classes it receives are its comma-separated
``predicted_values`` (Label Studio's convention) when set, else every detector class whose
name matches the label (case, spacing and plural ignored) or that ``detection.label_map``
sends to it. Results use Label Studio's percent units with the image's original size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

import numpy as np

from winnow.detection.base import Detection
from winnow.detection.labels import map_labels

BOX_TAGS = {"rectanglelabels": "rectanglelabels", "polygonlabels": "polygonlabels"}


@dataclass(frozen=True)
class BoxControl:
    from_name: str
    to_name: str
    data_key: str
    kind: str  # "rectanglelabels" or "polygonlabels"
    labels: tuple[str, ...]
    predicted: tuple[tuple[str, tuple[str, ...]], ...]  # label -> its predicted_values

    def class_map(
        self, detector_classes: Sequence[str], explicit: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """Detector class -> this control's label."""
        mapping = map_labels(detector_classes, self.labels, explicit)
        for label, names in self.predicted:
            mapping.update({name: label for name in names})
        return mapping

    def signature(self) -> dict[str, Any]:
        predicted = [[label, list(names)] for label, names in self.predicted]
        return {
            "from_name": self.from_name,
            "to_name": self.to_name,
            "kind": self.kind,
            "labels": list(self.labels),
            "predicted": predicted,
        }

    def results(self, det: Detection, mapping: Mapping[str, str]) -> list[dict[str, Any]]:
        """One Label Studio region per detection whose class maps to a label."""
        out = []
        for i, name in enumerate(det.labels):
            if name not in mapping:
                continue
            item = {
                "id": f"winnow-{self.from_name}-{i}",
                "from_name": self.from_name,
                "to_name": self.to_name,
                "type": self.kind,
                "original_width": det.width,
                "original_height": det.height,
                "image_rotation": 0,
                "score": round(float(det.scores[i]), 4),
            }
            if self.kind == "rectanglelabels":
                item["value"] = _rectangle(det.boxes[i], det.width, det.height)
            else:
                mask = None if det.masks is None else det.masks[i]
                item["value"] = {
                    "points": _polygon(det.boxes[i], mask, det.width, det.height),
                    "closed": True,
                }
            item["value"][self.kind] = [mapping[name]]
            out.append(item)
        return out


def box_controls(root: Element, images: dict[str, str]) -> list[BoxControl]:
    """Every RectangleLabels/PolygonLabels in ``root`` bound to an Image with labels."""
    found = []
    for element in root.iter():
        kind = BOX_TAGS.get(element.tag.lower()) if isinstance(element.tag, str) else None
        if kind is None:
            continue
        name = element.get("name") or ""
        targets = [t.strip() for t in (element.get("toName") or "").split(",")]
        bound = [t for t in targets if t in images]
        labels = [child for child in element if str(child.tag).lower() == "label"]
        if not name or not bound or not labels:
            continue
        values = tuple((c.get("alias") or c.get("value") or "").strip() for c in labels)
        predicted = tuple(
            (v, tuple(p.strip() for p in c.get("predicted_values", "").split(",") if p.strip()))
            for v, c in zip(values, labels, strict=True)
            if c.get("predicted_values")
        )
        found.append(BoxControl(name, bound[0], images[bound[0]], kind, values, predicted))
    return found


def _rectangle(box: np.ndarray, width: int, height: int) -> dict[str, Any]:
    x1, y1, x2, y2 = (float(v) for v in box)
    x1, x2 = max(0.0, x1), min(float(width), x2)
    y1, y2 = max(0.0, y1), min(float(height), y2)
    return {
        "x": 100 * x1 / width,
        "y": 100 * y1 / height,
        "width": 100 * (x2 - x1) / width,
        "height": 100 * (y2 - y1) / height,
        "rotation": 0,
    }


def _polygon(
    box: np.ndarray, mask: np.ndarray | None, width: int, height: int
) -> list[list[float]]:
    """The mask's largest outline (simplified), else the box's corners, in percent."""
    points = None
    if mask is not None and mask.any():
        import cv2

        contours, _ = cv2.findContours(
            mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
        )
        largest = max(contours, key=cv2.contourArea)
        approx = cv2.approxPolyDP(largest, 0.005 * cv2.arcLength(largest, True), True)
        if len(approx) >= 3:
            points = approx.reshape(-1, 2).astype(float)
    if points is None:
        x1, y1, x2, y2 = (float(v) for v in box)
        points = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
    points = np.clip(points, 0, [width, height])
    return [[100 * x / width, 100 * y / height] for x, y in points]
