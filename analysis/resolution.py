"""Effective resolution and JPEG quality: which copy in a near-duplicate cluster to keep.

Why: pixel count alone prefers an upscaled copy (a 200% bicubic resize has four times the
pixels and no more detail) and ignores a low-quality re-save. An upscaled image has almost no
energy above its original Nyquist frequency, so its spectrum has a cliff at 1/s of its own
Nyquist. For each trial factor s the energy above 1/s is compared with the energy in the octave
just below, normalised by what a natural 1/f spectrum gives (ln s / ln 2); a ratio under
``threshold`` means the image was upscaled by about s. Measured on a central crop at native
resolution, so the cost is one FFT of at most ``crop``² pixels per cluster member.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import scipy.fft

FACTORS = (1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0)
THRESHOLD = 0.15  # skimage photos: natural 0.17-0.71, 2x bicubic upscales 0.02-0.09
LOSSLESS_QUALITY = 100.0
# Names the measurement for caches of ResolutionSignal by content: change it whenever a change
# here (factors, threshold, crop, quality estimate, fields) would give another signal.
SIGNAL_VERSION = "1"


@dataclass(frozen=True)
class ResolutionSignal:
    """What the keeper rule compares: native size, estimated upscale factor, JPEG quality."""

    width: int
    height: int
    upscale: float  # 1.0: no upscaling detected
    detail: float  # min over FACTORS of the normalised band ratio: lower = more upscaled
    quality: float  # estimated JPEG quality 1-100; LOSSLESS_QUALITY for non-JPEG
    clipped: float = 0.0  # share of gray pixels at 0 or 255 (a brightened copy clips)
    levels: int = 256  # distinct gray levels (a darkened copy has fewer)

    @property
    def effective_pixels(self) -> float:
        """Pixels the content really has: native pixels over the upscale factor squared."""
        return self.width * self.height / self.upscale**2


def band_ratios(gray: np.ndarray, *, crop: int = 512) -> dict[float, float]:
    """Per trial factor s: energy above 1/s of Nyquist over energy in (1/2s, 1/s], divided by
    ln s / ln 2 (about 1 for a natural spectrum, near 0 for an image upscaled by s or more)."""
    g = np.asarray(gray)
    if g.ndim != 2 or min(g.shape) < 16:
        raise ValueError(f"gray must be 2-D and at least 16 px per side, got {g.shape}")
    h, w = g.shape
    y0, x0 = max(0, (h - crop) // 2), max(0, (w - crop) // 2)
    g = g[y0 : y0 + crop, x0 : x0 + crop].astype(np.float32)
    bins, window = _spectrum_layout(g.shape)
    spectrum = scipy.fft.rfft2((g - g.mean()) * window)  # float32: ~3x numpy's float64 FFT
    power = spectrum.real.astype(np.float64) ** 2 + spectrum.imag.astype(np.float64) ** 2
    # power summed between consecutive band edges; a band is then a difference of two sums
    cumulative = np.concatenate(([0.0], np.cumsum(np.bincount(bins, power.ravel(), len(_EDGES)))))

    def energy(low: float, high: float) -> float:  # power at radii in (low, high]
        return float(cumulative[_EDGE_INDEX[high] + 1] - cumulative[_EDGE_INDEX[low] + 1])

    out = {}
    for s in FACTORS:
        top = min(1.0, 2.0 / s)
        high, low = energy(1 / s, top), energy(0.5 / s, 1 / s)
        out[s] = float(high / low / (np.log(top * s) / np.log(2))) if low > 0 else 1.0
    return out


# Every band bound band_ratios asks for (as a share of Nyquist); radii beyond the last fall in
# one extra bin that no band reads.
_EDGES = np.array(sorted({b for s in FACTORS for b in (0.5 / s, 1 / s, min(1.0, 2.0 / s))}))
_EDGE_INDEX = {float(b): k for k, b in enumerate(_EDGES)}


@lru_cache(maxsize=8)
def _spectrum_layout(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For an ``rfft2`` of ``shape``: each bin's band (k: radius in (edge k-1, edge k]) and the
    float32 Hann window. One pass per crop shape turns every band sum into two lookups."""
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    r = (np.sqrt(fx**2 + fy**2) / 0.5).ravel()
    bins = np.minimum(np.searchsorted(_EDGES, r, side="left"), len(_EDGES))
    window = np.outer(np.hanning(shape[0]), np.hanning(shape[1])).astype(np.float32)
    return bins.astype(np.intp), window


def jpeg_quality(quantization: Mapping[int, Sequence[int]] | None) -> float:
    """Estimated libjpeg quality from the luminance quantisation table (Pillow's
    ``image.quantization``); LOSSLESS_QUALITY when there is none (PNG, WebP lossless, ...).

    Inverts libjpeg's scaling of the standard table: scale = 5000/q (q < 50) or 200 - 2q.
    """
    if not quantization or 0 not in quantization:
        return LOSSLESS_QUALITY
    table = np.asarray(quantization[0], dtype=np.float64)
    if table.size != 64:
        return LOSSLESS_QUALITY
    scale = 100.0 * np.sum(table) / np.sum(_STD_LUMA)  # mean percentage of the standard table
    quality = 5000.0 / scale if scale > 100 else (200.0 - scale) / 2.0
    return float(np.clip(quality, 1.0, 100.0))


def resolution_signal(
    gray: np.ndarray, quantization: Mapping[int, Sequence[int]] | None = None
) -> ResolutionSignal:
    """The keeper signal of one image: ``gray`` uint8/float (H, W) at native resolution."""
    ratios = band_ratios(gray)
    below = [s for s, v in ratios.items() if v < THRESHOLD]
    h, w = np.shape(gray)
    g = np.asarray(gray)
    if g.dtype != np.uint8:
        g = np.clip(g.astype(np.float64), 0, 255).astype(np.uint8)
    # one pass for clipping and levels (OpenCV's histogram: ~10x np.bincount on uint8)
    histogram = cv2.calcHist([np.ascontiguousarray(g)], [0], None, [256], [0, 256]).ravel()
    return ResolutionSignal(
        width=int(w),
        height=int(h),
        upscale=max(below) if below else 1.0,
        detail=min(ratios.values()),
        quality=jpeg_quality(quantization),
        clipped=float((histogram[0] + histogram[255]) / max(1, g.size)),
        levels=int(np.count_nonzero(histogram)),
    )


def keeper_order(
    signals: Sequence[ResolutionSignal],
    *,
    centrality: Sequence[float] | None = None,
    tolerance: float = 0.25,
) -> list[int]:
    """Indices of ``signals``, best copy first: highest effective resolution (copies within
    ``tolerance`` of the best count as equal, the estimate being coarse), then the best JPEG
    quality, then the least upscaled, then the most pixels, then the most ``centrality`` (mean
    similarity to the other copies: the source of derived copies sits in their middle, which
    separates an original from its flip or watermark), then the fewest clipped pixels and the
    most grey levels (a brightened or darkened copy loses tones). Ties keep the given order."""
    if not signals:
        return []
    best = max(s.effective_pixels for s in signals)

    def key(i: int) -> tuple:
        s = signals[i]
        tier = s.effective_pixels >= best * (1 - tolerance)
        clipped = round(s.clipped, 3)
        central = 0.0 if centrality is None else -round(float(centrality[i]), 4)
        area = -s.width * s.height
        return (not tier, -s.quality, s.upscale, area, central, clipped, -s.levels)

    return sorted(range(len(signals)), key=key)


# libjpeg's standard luminance table (ITU T.81 Annex K), the reference for quality estimates.
_STD_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
     14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
     18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    dtype=np.float64,
)  # fmt: skip
