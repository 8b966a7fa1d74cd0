"""torchvision's COCO detectors: Faster R-CNN, Mask R-CNN, RetinaNet, SSDlite (the default).

Weights come from ``detection.checkpoint`` (a local ``.pth`` state dict) or, when that is
unset, from torchvision's own URL through torch's hub cache, so a machine with internet gets
them once and an offline machine can be given the file. Missing weights are an error that
names the setting; random weights exist only through :meth:`TorchvisionDetector.untrained`,
which tests use to exercise the real architectures.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from winnow.config import DetectionSettings
from winnow.detection.base import Detection
from winnow.errors import ModelError, WeightsUnavailableError

MODELS = (
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "maskrcnn_resnet50_fpn",
    "maskrcnn_resnet50_fpn_v2",
    "retinanet_resnet50_fpn",
    "retinanet_resnet50_fpn_v2",
    "ssdlite320_mobilenet_v3_large",
)
_FLOOR = 0.05  # keep weak boxes too: the missing/spurious checks weigh them by score


class TorchvisionDetector:
    """One torchvision detection model on the CPU, in eval mode."""

    def __init__(self, name: str, model: Any, categories: list[str], version: str) -> None:
        self.name = name
        self.model = model.eval()
        self.categories = categories  # model index -> COCO name ("N/A" for unused indices)
        unused = ("N/A", "__background__")
        self.classes = tuple(c for c in dict.fromkeys(categories) if c not in unused)
        self.has_masks = name.startswith("maskrcnn")
        self.model_version = version

    @classmethod
    def from_settings(cls, settings: DetectionSettings) -> TorchvisionDetector:
        """The model ``settings.model`` with COCO weights from the checkpoint or the cache."""
        name = _check_name(settings.model)
        weights = _weights_enum(name)
        if settings.checkpoint is not None:
            state, tag = _load_checkpoint(Path(settings.checkpoint)), _file_tag(settings.checkpoint)
        else:
            state, tag = _cached_or_downloaded(name, weights, allow=settings.download), weights.url
        model = _build(name, num_classes=len(weights.meta["categories"]))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelError(f"detection.checkpoint does not fit {name}: {str(exc)[:300]}") from exc
        version = f"{name}@{hashlib.sha256(str(tag).encode()).hexdigest()[:10]}"
        return cls(name, model, list(weights.meta["categories"]), version)

    @classmethod
    def untrained(cls, name: str, *, seed: int = 0, **size: int) -> TorchvisionDetector:
        """The real architecture with random weights, for tests only: its boxes mean nothing.

        ``size``: builder options such as ``min_size=128, max_size=160`` for small inputs.
        """
        import torch

        name = _check_name(name)
        torch.manual_seed(seed)
        categories = list(_weights_enum(name).meta["categories"])
        model = _build(name, num_classes=len(categories), **size)
        return cls(name, model, categories, f"{name}@random-seed{seed}")

    def detect(self, images: list[np.ndarray]) -> list[Detection]:
        import torch

        tensors = [
            torch.from_numpy(np.ascontiguousarray(im)).permute(2, 0, 1).float() / 255.0
            for im in images
        ]
        with torch.inference_mode():
            outputs = self.model(tensors)
        return [self._detection(out, im.shape) for out, im in zip(outputs, images, strict=True)]

    def _detection(self, out: dict[str, Any], shape: tuple[int, ...]) -> Detection:
        scores = out["scores"].numpy().astype(np.float32)
        used = np.array([self.categories[int(i)] in self.classes for i in out["labels"]], bool)
        keep = np.flatnonzero((scores >= _FLOOR) & used.reshape(-1))
        names = [self.categories[int(i)] for i in out["labels"].numpy()[keep]]
        masks = None
        if "masks" in out:
            masks = out["masks"].numpy()[keep, 0] >= 0.5
        height, width = shape[:2]
        boxes = out["boxes"].numpy().astype(np.float32)[keep]
        return Detection(
            boxes, tuple(names), scores[keep], self.model_version, width, height, masks
        )


def _check_name(name: str) -> str:
    if name not in MODELS:
        raise ModelError(f"unknown torchvision detector {name!r}; choose one of {list(MODELS)}")
    return name


def _weights_enum(name: str) -> Any:
    from torchvision.models import get_model_weights

    return get_model_weights(name).DEFAULT


def _build(name: str, *, num_classes: int, **options: Any) -> Any:
    from torchvision.models import get_model

    extra = {"weights_backbone": None} | options
    return get_model(name, weights=None, num_classes=num_classes, **extra)


def _load_checkpoint(path: Path) -> dict[str, Any]:
    import torch

    if not path.is_file():
        raise WeightsUnavailableError(f"detection.checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors alike: the file is unusable
        raise ModelError(f"detection.checkpoint {path} is not a torch state dict: {exc}") from exc
    for key in ("model", "state_dict"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    return state


def _file_tag(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cached_or_downloaded(name: str, weights: Any, *, allow: bool) -> dict[str, Any]:
    import torch

    cached = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[1]
    if not cached.exists() and not allow:
        raise WeightsUnavailableError(
            f"no COCO weights for {name}: {cached} is not cached and detection.download is "
            f"off. Set detection.checkpoint to a local copy of {weights.url}"
        )
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # URLError, timeouts, hash mismatch: all mean "no weights"
        raise WeightsUnavailableError(
            f"could not download {weights.url} ({exc}); offline, download it elsewhere and set "
            f"detection.checkpoint (WINNOW_DETECTION__CHECKPOINT) to the file"
        ) from exc
