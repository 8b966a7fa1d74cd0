"""Grad-CAM (captum ``LayerGradCam``) for the trained classifier: where in the image the
backbone features that drove a prediction came from.

The classifier is made differentiable end to end: the backbone's pooled features, the same
L2 normalisation the embedder applies, then the linear head as a ``torch.nn.Linear``. The
heat map is taken at the last convolutional feature map (7 x 7 for EfficientNet-Lite0 at
224 px) and upsampled bilinearly to the input.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import LayerAttribution, LayerGradCam
from PIL import Image


class HeadedBackbone(torch.nn.Module):
    """``encode`` (normalised images -> raw pooled features) + L2 norm + a linear head."""

    def __init__(
        self,
        encode: Callable[[torch.Tensor], torch.Tensor],
        coef: np.ndarray,
        intercept: np.ndarray,
    ) -> None:
        super().__init__()
        self.encode = encode
        self.head = torch.nn.Linear(coef.shape[1], coef.shape[0])
        with torch.no_grad():
            self.head.weight.copy_(torch.as_tensor(coef, dtype=torch.float32))
            self.head.bias.copy_(torch.as_tensor(intercept, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.normalize(self.encode(x).float(), dim=-1))


def grad_cam(
    model: torch.nn.Module, layer: torch.nn.Module, inputs: torch.Tensor, targets: np.ndarray
) -> np.ndarray:
    """Heat maps float32 ``(N, H, W)`` in [0, 1] for class ``targets`` ``(N,)`` of ``inputs``
    ``(N, 3, H, W)`` (already normalised for the backbone). Each map is scaled to its max."""
    if len(inputs) == 0:
        return np.zeros((0, *inputs.shape[-2:]), dtype=np.float32)
    cam = LayerGradCam(model, layer)
    x = inputs.clone().requires_grad_(True)
    attr = cam.attribute(x, target=[int(t) for t in targets], relu_attributions=True)
    up = LayerAttribution.interpolate(attr, tuple(inputs.shape[-2:]), "bilinear")
    heat = up[:, 0].detach().float().numpy()
    peak = heat.reshape(len(heat), -1).max(axis=1).reshape(-1, 1, 1)
    return (heat / np.where(peak > 0, peak, 1.0)).astype(np.float32)


def overlay(rgb: np.ndarray, heat: np.ndarray, *, alpha: float = 0.45) -> Image.Image:
    """The image ``rgb`` uint8 ``(H, W, 3)`` with the heat map ``(H, W)`` in JET colours."""
    coloured = cv2.applyColorMap(np.uint8(255 * np.clip(heat, 0, 1)), cv2.COLORMAP_JET)
    coloured = cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB)
    mixed = (1 - alpha) * rgb.astype(np.float32) + alpha * coloured.astype(np.float32)
    return Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8))
