"""The keeper rule on real photos: an upscaled or re-saved copy must not be kept."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data

from analysis.audit import AuditOptions, audit
from analysis.duplicates import choose_keepers, resolution_keepers
from analysis.resolution import (
    FACTORS,
    LOSSLESS_QUALITY,
    ResolutionSignal,
    band_ratios,
    jpeg_quality,
    keeper_order,
    resolution_signal,
)

PHOTOS = {"astronaut": data.astronaut, "coffee": data.coffee, "chelsea": data.chelsea}


def _photo(name: str) -> Image.Image:
    return Image.fromarray(PHOTOS[name]()).convert("RGB")


def _signal(image: Image.Image) -> ResolutionSignal:
    """Signal as the audit measures it: native gray pixels plus the file's JPEG tables."""
    return resolution_signal(np.asarray(image.convert("L")), getattr(image, "quantization", None))


def _upscaled(image: Image.Image, factor: float) -> Image.Image:
    size = (round(image.width * factor), round(image.height * factor))
    return image.resize(size, Image.Resampling.BICUBIC)


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    loaded = Image.open(buffer)
    loaded.load()
    return loaded


def _keeper(copies: list[Image.Image]) -> int:
    """Index kept in one cluster of ``copies``, starting from the old pixel-count choice."""
    pixels = np.array([c.width * c.height for c in copies], float)
    cluster = np.zeros(len(copies), np.int64)
    keep = choose_keepers(cluster, quality=np.log(pixels))
    signals = [_signal(c) for c in copies]
    return int(np.flatnonzero(resolution_keepers(cluster, keep, lambda i: signals[i]))[0])


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_original_is_kept_over_its_2x_bicubic_upscale(name: str) -> None:
    original = _photo(name)
    copies = [_upscaled(original, 2.0), original]  # the old rule keeps index 0 (more pixels)
    assert _keeper(copies) == 1
    assert _signal(copies[0]).upscale >= 2.0
    assert _signal(original).upscale == 1.0


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_original_is_kept_over_its_quality_30_resave(name: str) -> None:
    original = _photo(name)
    resaved = _jpeg(original, 30)
    assert jpeg_quality(resaved.quantization) == pytest.approx(30, abs=2)
    assert _keeper([resaved, original]) == 1
    assert _keeper([original, resaved]) == 0


def test_high_quality_jpeg_original_beats_low_quality_resave_of_it() -> None:
    original = _jpeg(_photo("coffee"), 92)
    resaved = _jpeg(original.convert("RGB"), 30)
    assert _keeper([resaved, original]) == 1


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_signal_is_monotone_in_the_upscale_factor(name: str) -> None:
    original = _photo(name)
    signals = [_signal(_upscaled(original, f)) for f in (1.0, 1.5, 2.0, 3.0, 4.0)]
    detail = [s.detail for s in signals[:4]]  # from 3x on it sits at the 8-bit noise floor
    assert all(a > b for a, b in zip(detail, detail[1:], strict=False)), detail
    upscale = [s.upscale for s in signals]
    assert upscale == sorted(upscale) and upscale[0] == 1.0 and upscale[-1] >= 3.0, upscale


def test_a_downscaled_copy_is_not_kept_over_the_original() -> None:
    original = _photo("astronaut")
    half = original.resize((256, 256), Image.Resampling.LANCZOS)
    assert _keeper([half, original]) == 1


def test_lossless_files_have_full_quality_and_order_falls_back_to_pixels() -> None:
    assert jpeg_quality(None) == LOSSLESS_QUALITY
    small = ResolutionSignal(100, 100, 1.0, 0.5, 100.0)
    large = ResolutionSignal(200, 200, 1.0, 0.5, 100.0)
    assert keeper_order([small, large]) == [1, 0]


def test_unmeasurable_cluster_keeps_the_previous_choice() -> None:
    keep = np.array([False, True])
    out = resolution_keepers(np.zeros(2, np.int64), keep, lambda i: None)
    assert out.tolist() == [False, True]


def test_audit_flags_the_upscaled_copy_not_the_original() -> None:
    """The audit's keeper, with a ``resolution`` loader: the original stays, the 2x copy is
    the near duplicate (without it, the larger copy would be kept)."""
    original = _photo("chelsea")
    copies = {"big": _upscaled(original, 2.0), "orig": original}
    rows = [
        {
            "uri": f"/d/{name}.png",
            "sha256": name,
            "label": None,
            "split": None,
            "error_kind": None,
            "error": None,
            "format": "PNG",
            "phash": 7,
            "width": image.width,
            "height": image.height,
            "blur": 100.0,
            "brightness": 0.5,
            "dark_fraction": 0.01,
            "bright_fraction": 0.01,
            "entropy": 7.0,
            "is_grayscale": False,
            "has_alpha": False,
            "exif_orientation": 1,
            "mode": "RGB",
        }
        for name, image in copies.items()
    ]
    checks = frozenset({"near_duplicate"})
    signals = {name: _signal(image) for name, image in copies.items()}
    for resolution, flagged in [(None, "/d/orig.png"), (signals.get, "/d/big.png")]:
        result = audit(
            pd.DataFrame(rows), options=AuditOptions(checks=checks, resolution=resolution)
        )
        near = result.issues[result.issues["issue_type"] == "near_duplicate"]
        assert list(near["path"]) == [flagged]


def _band_ratios_by_masks(gray: np.ndarray, crop: int = 512) -> dict[float, float]:
    """The definition, written plainly (one boolean mask per band, float64 FFT): the reference
    for the sorted-radius, float32 version the audit runs."""
    g = np.asarray(gray, dtype=np.float64)
    h, w = g.shape
    y0, x0 = max(0, (h - crop) // 2), max(0, (w - crop) // 2)
    g = g[y0 : y0 + crop, x0 : x0 + crop]
    g = (g - g.mean()) * np.outer(np.hanning(g.shape[0]), np.hanning(g.shape[1]))
    power = (np.abs(np.fft.rfft2(g)) ** 2).ravel()
    fy = np.fft.fftfreq(g.shape[0])[:, None]
    fx = np.fft.rfftfreq(g.shape[1])[None, :]
    r = (np.sqrt(fx**2 + fy**2) / 0.5).ravel()
    out = {}
    for s in FACTORS:
        top = min(1.0, 2.0 / s)
        high = power[(r > 1 / s) & (r <= top)].sum()
        low = power[(r > 0.5 / s) & (r <= 1 / s)].sum()
        out[s] = float(high / low / (np.log(top * s) / np.log(2)))
    return out


@pytest.mark.parametrize("name", sorted(PHOTOS))
@pytest.mark.parametrize("factor", [1.0, 2.0])
def test_band_ratios_match_the_plain_definition(name: str, factor: float) -> None:
    gray = np.asarray(_upscaled(_photo(name), factor).convert("L"))
    expected = _band_ratios_by_masks(gray)
    got = band_ratios(gray)
    assert got.keys() == expected.keys()
    for s in FACTORS:
        assert got[s] == pytest.approx(expected[s], rel=1e-5, abs=1e-9)


def test_signals_measured_on_threads_choose_the_same_keepers() -> None:
    """Three clusters of real copies (an original, its 2x upscale, a q30 re-save) and one
    singleton: measuring the signals on 4 threads keeps the same files as on one, and the
    singleton is never measured."""
    copies, clusters = [], []
    for c, name in enumerate(sorted(PHOTOS)):
        original = _photo(name)
        copies += [_upscaled(original, 2.0), _jpeg(original, 30), original]
        clusters += [c, c, c]
    copies.append(_photo("coffee"))
    clusters.append(len(PHOTOS))
    cluster = np.array(clusters, np.int64)
    pixels = np.array([c.width * c.height for c in copies], float)
    keep = choose_keepers(cluster, quality=np.log(pixels))
    measured: list[int] = []

    def signal(i: int) -> ResolutionSignal:
        measured.append(i)
        return _signal(copies[i])

    one = resolution_keepers(cluster, keep, signal, workers=1)
    four = resolution_keepers(cluster, keep, signal, workers=4)
    np.testing.assert_array_equal(one, four)
    assert list(np.flatnonzero(one)) == [2, 5, 8, 9]  # each original, and the singleton
    assert len(measured) == 18 and 9 not in measured
