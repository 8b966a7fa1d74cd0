"""Detectron2's model zoo (Mask R-CNN, Faster R-CNN): an optional extra, built from source.

Detectron2 is not on PyPI; ``docs/detection.md`` says how to install it. ``detection.model``
names a model-zoo config such as ``COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml``;
weights come from ``detection.checkpoint`` or the zoo's URL (detectron2 caches downloads).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from winnow.config import DetectionSettings
from winnow.detection.base import Detection
from winnow.errors import ModelError

INSTALL_HINT = (
    "detectron2 is not installed; it is not on PyPI. Install it from source: "
    "pip install 'git+https://github.com/facebookresearch/detectron2.git' "
    "(see docs/detection.md), or set detection.backend to torchvision"
)
_FLOOR = 0.05
DEFAULT_ZOO_MODEL = "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"


def zoo_name(model: str) -> str:
    """``detection.model`` as a zoo config; the torchvision default means the zoo default."""
    return model if model.endswith(".yaml") else DEFAULT_ZOO_MODEL


def import_detectron2() -> Any:
    """The ``detectron2`` package, or a ModelError that says how to install it."""
    try:
        import detectron2  # noqa: F401
        from detectron2 import model_zoo
    except ImportError as exc:
        raise ModelError(INSTALL_HINT) from exc
    return model_zoo


class Detectron2Detector:
    """A detectron2 ``DefaultPredictor`` on the CPU, answering in COCO class names."""

    def __init__(self, settings: DetectionSettings) -> None:
        model_zoo = import_detectron2()
        from detectron2.config import get_cfg
        from detectron2.data import MetadataCatalog
        from detectron2.engine import DefaultPredictor

        name = zoo_name(settings.model)
        cfg = get_cfg()
        try:
            cfg.merge_from_file(model_zoo.get_config_file(name))
        except RuntimeError as exc:
            raise ModelError(
                f"detection.model {name!r} is not in the detectron2 model zoo: {exc}"
            ) from exc
        weights = str(settings.checkpoint or model_zoo.get_checkpoint_url(name))
        cfg.MODEL.WEIGHTS = weights
        cfg.MODEL.DEVICE = "cpu"
        cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST = _FLOOR
        cfg.MODEL.RETINANET.SCORE_THRESH_TEST = _FLOOR
        self._predictor = DefaultPredictor(cfg)
        self.categories = list(MetadataCatalog.get(cfg.DATASETS.TRAIN[0]).thing_classes)
        self.classes = tuple(self.categories)
        self.has_masks = bool(cfg.MODEL.MASK_ON)
        tag = hashlib.sha256(weights.encode()).hexdigest()[:10]
        self.model_version = f"detectron2-{name.rsplit('/', 1)[-1].removesuffix('.yaml')}@{tag}"

    def detect(self, images: list[np.ndarray]) -> list[Detection]:
        return [self._detect_one(image) for image in images]

    def _detect_one(self, image: np.ndarray) -> Detection:
        out = self._predictor(np.ascontiguousarray(image[:, :, ::-1]))["instances"].to("cpu")
        names = tuple(self.categories[int(i)] for i in out.pred_classes.numpy())
        masks = out.pred_masks.numpy().astype(bool) if out.has("pred_masks") else None
        height, width = image.shape[:2]
        return Detection(
            out.pred_boxes.tensor.numpy().astype(np.float32),
            names,
            out.scores.numpy().astype(np.float32),
            self.model_version,
            width,
            height,
            masks,
        )
