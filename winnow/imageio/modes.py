"""Turn any decoded Pillow image into 8-bit RGB without losing what the pixels mean.

Pillow's plain ``convert("RGB")`` is wrong for three common cases, and each one would skew
quality metrics and embeddings: transparent pixels keep whatever colour hides under alpha
(often black), 16-bit and float images are clipped (a 16-bit photo turns white), and CMYK
ignores the embedded ICC profile (colours wash out).
"""

from __future__ import annotations

import io
import logging

import numpy as np
from PIL import Image, ImageCms

log = logging.getLogger(__name__)

_HIGH_DEPTH_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_WHITE = (255, 255, 255, 255)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def to_rgb(image: Image.Image) -> tuple[Image.Image, bool]:
    """``(rgb_image, has_alpha)``; ``has_alpha`` is True only if some pixel is not opaque.

    Transparent areas are composited on white, the usual background of product shots and
    drawings, so they do not read as black blobs.
    """
    mode = image.mode
    if mode in _HIGH_DEPTH_MODES:
        return _scale_to_8bit(image), False
    if mode == "CMYK":
        return _cmyk_to_rgb(image), False
    if mode in _ALPHA_MODES or "transparency" in image.info:
        return _flatten_alpha(image.convert("RGBA"))
    if mode == "RGB":
        return image, False
    return image.convert("RGB"), False


def _flatten_alpha(rgba: Image.Image) -> tuple[Image.Image, bool]:
    lowest_alpha = rgba.getchannel("A").getextrema()[0]
    if lowest_alpha == 255:
        return rgba.convert("RGB"), False
    background = Image.new("RGBA", rgba.size, _WHITE)
    return Image.alpha_composite(background, rgba).convert("RGB"), True


def _scale_to_8bit(image: Image.Image) -> Image.Image:
    """Stretch the image's actual value range onto 0..255 (12-bit data fills the range too)."""
    values = np.asarray(image, dtype=np.float32)
    finite = np.isfinite(values)
    if not finite.any():
        return Image.new("RGB", image.size)
    low = float(values[finite].min())
    high = float(values[finite].max())
    values = np.where(finite, values, low)
    if high > low:
        scaled = (values - low) * (255.0 / (high - low))
    else:  # constant image: keep its level relative to the type's nominal range
        nominal = 1.0 if image.mode == "F" else 65535.0
        scaled = np.full(values.shape, np.clip(low / nominal, 0.0, 1.0) * 255.0)
    gray = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(gray, "L").convert("RGB")


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """Use the embedded ICC profile when there is one; otherwise Pillow's formula."""
    icc = image.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
            log.debug("ignoring unusable CMYK ICC profile: %s", exc)
    return image.convert("RGB")
