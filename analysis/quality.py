"""Image-quality and integrity checks: one severity score in [0, 1] and one flag per check.

Input is the feature store's per-image table (measurements from ``winnow.features.measure``
plus width, height, mode and alpha). Each check returns a score where higher means worse; the
flag is ``score > 0.5``, which by construction sits exactly at the documented threshold.
Checks that only make sense relative to a data set (size, aspect ratio, alpha, grayscale,
tiny images, exposure shared by most images) compare each image with the set's median or
majority.

The blur threshold was set on the 43 real photos of ``winnow.samples.real_photos``: on the
256-px working copy they measure a Laplacian variance of 57-3600, except a deliberately
defocused photo (15); blurred with a Gaussian of sigma = longer side / 200 they measure
4-122, 30 of 43 below 30. So 30 flags real defocus and strong blur, and misses mild blur
on very detailed scenes. Dark and bright also count clipped pixels: more than half the
pixels crushed to black (or blown to white) is flagged whatever the mean, unless most of the
set is (then it is the data's look, like tiny images in a set of thumbnails).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.validation import require_columns

CHECKS = (
    "blurry",
    "dark",
    "bright",
    "low_information",
    "odd_size",
    "odd_aspect_ratio",
    "grayscale",
    "alpha",
    "exif_rotated",
)


COLOUR_MODES = ("RGB", "RGBA", "RGBX", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV")


@dataclass(frozen=True)
class QualityThresholds:
    blur: float = 30.0  # Laplacian variance below this is blurry
    dark_brightness: float = 0.12  # mean gray level below this is dark
    bright_brightness: float = 0.92  # mean gray level above this is overexposed
    low_entropy_bits: float = 3.0  # gray-histogram entropy below this is low information
    size_factor: float = 8.0  # area this many times off the median is an odd size
    min_side: int = 32  # a side below this is an odd size, unless most images have one
    aspect_factor: float = 2.5  # aspect ratio this many times off the median is odd
    minority_share: float = 0.5  # alpha/grayscale flagged only when a minority has it


def _ratio_score(value: np.ndarray, threshold: float) -> np.ndarray:
    """0.5 at ``value == threshold``, rising to 1 as value falls to 0 (value >= 0)."""
    return threshold / (threshold + np.maximum(value, 0.0))


def _excess_score(log_distance: np.ndarray, log_limit: float) -> np.ndarray:
    """0.5 when ``log_distance == log_limit``, towards 1 as it grows."""
    return log_distance / (log_distance + log_limit)


def quality_scores(
    images: pd.DataFrame, *, thresholds: QualityThresholds | None = None
) -> pd.DataFrame:
    """Scores ``<check>_score`` and flags ``<check>`` for every check in ``CHECKS``.

    ``images`` has one row per decodable image and the columns ``blur, brightness,
    dark_fraction, bright_fraction, entropy, width, height, is_grayscale, has_alpha,
    exif_orientation``. Returns a frame
    with the same index.
    """
    t = thresholds or QualityThresholds()
    require_columns(
        images,
        [
            "blur",
            "brightness",
            "dark_fraction",
            "bright_fraction",
            "entropy",
            "width",
            "height",
            "is_grayscale",
            "has_alpha",
            "exif_orientation",
        ],
    )
    brightness = images["brightness"].to_numpy(float)
    width = images["width"].to_numpy(float)
    height = images["height"].to_numpy(float)
    log_area = np.log(width * height)
    log_aspect = np.log(width / height)
    size_dist = np.abs(log_area - np.median(log_area)) if len(images) else log_area
    aspect_dist = np.abs(log_aspect - np.median(log_aspect)) if len(images) else log_aspect
    # Tiny images are odd only in a set of larger ones: a data set of 28-px digits or
    # thumbnails is small by design (every Fashion-MNIST image was flagged before this).
    small = _minority(pd.Series(np.minimum(width, height) < t.min_side), t.minority_share) > 0
    scores = {
        "blurry": _ratio_score(images["blur"].to_numpy(float), t.blur),
        "dark": np.maximum(
            _ratio_score(brightness, t.dark_brightness), images["dark_fraction"].to_numpy(float)
        ),
        "bright": np.maximum(
            _ratio_score(1.0 - brightness, 1.0 - t.bright_brightness),
            images["bright_fraction"].to_numpy(float),
        ),
        "low_information": _ratio_score(images["entropy"].to_numpy(float), t.low_entropy_bits),
        "odd_size": np.where(small, 1.0, _excess_score(size_dist, np.log(t.size_factor))),
        "odd_aspect_ratio": _excess_score(aspect_dist, np.log(t.aspect_factor)),
        "grayscale": _minority(
            _stored_as_colour(images) & images["is_grayscale"].fillna(False), t.minority_share
        ),
        "alpha": _minority(images["has_alpha"], t.minority_share),
        "exif_rotated": (images["exif_orientation"].fillna(1).to_numpy() > 1).astype(float),
    }
    # Pixels are measured after compositing transparency on white: for cut-outs the exposure
    # and information checks would judge the background, so they do not apply.
    transparent = images["has_alpha"].fillna(False).astype(bool).to_numpy()
    for name in ("dark", "bright", "low_information"):
        scores[name] = np.where(transparent, 0.0, scores[name])
    # Exposure that most of the set shares is the data's look, not a fault to review: items
    # on black (56% of Fashion-MNIST measured dark) or a night-time camera.
    for name in ("dark", "bright"):
        if len(images) and np.mean(scores[name] > 0.5) >= t.minority_share:
            scores[name] = np.zeros(len(images))
    out = pd.DataFrame(index=images.index)
    for name in CHECKS:
        out[f"{name}_score"] = np.clip(scores[name], 0.0, 1.0)
        out[name] = out[f"{name}_score"] > 0.5
    return out


def _stored_as_colour(images: pd.DataFrame) -> pd.Series:
    """Grayscale only matters for files stored in a colour mode (not L, LA, I;16, 1)."""
    if "mode" not in images:
        return pd.Series(True, index=images.index)
    return images["mode"].isin(COLOUR_MODES)


def _minority(flags: pd.Series, share: float) -> np.ndarray:
    """1 for images having a property that fewer than ``share`` of the set have, else 0."""
    values = flags.fillna(False).astype(bool).to_numpy()
    if not len(values) or values.mean() >= share:
        return np.zeros(len(values))
    return values.astype(float)
