"""``measure_image`` against a plain NumPy + imagehash reference on real pictures.

The measurements are computed from a histogram and with OpenCV for speed; the reference is the
straightforward formula each field documents, so a faster rewrite cannot drift. Hashes must be
bit-identical to the imagehash library's on the same gray thumbnail.
"""

from pathlib import Path

import cv2
import imagehash
import numpy as np
import pytest
from PIL import Image
from skimage import data

from winnow.features.measure import hash_to_int64, make_thumbnail, measure_image
from winnow.imageio import decode_image

PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "rocket", "immunohistochemistry", "moon")
STAMPS = Path("/usr/share/tuxpaint/stamps")
EXACT = ("brightness", "dark_fraction", "bright_fraction", "entropy", "mean_r", "mean_g")


def _reference(thumb: Image.Image) -> dict[str, float | int | bool]:
    rgb = np.asarray(thumb.convert("RGB"), dtype=np.uint8)
    gray_img = thumb.convert("L")
    gray = np.asarray(gray_img)
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.float64)
    p = hist[hist > 0] / gray.size
    chroma = np.abs(rgb.astype(np.int16) - rgb[..., :1].astype(np.int16)).max()
    return {
        "phash": hash_to_int64(imagehash.phash(gray_img)),
        "dhash": hash_to_int64(imagehash.dhash(gray_img)),
        "brightness": float(gray.mean() / 255.0),
        "contrast": float(gray.std() / 255.0),
        "dark_fraction": float((gray <= 16).mean()),
        "bright_fraction": float((gray >= 239).mean()),
        "entropy": float(-(p * np.log2(p)).sum()),
        "blur": float(cv2.Laplacian(gray.astype(np.float64), cv2.CV_64F).var()),
        "is_grayscale": bool(chroma <= 2),
        "mean_r": float(rgb[..., 0].mean() / 255.0),
        "mean_g": float(rgb[..., 1].mean() / 255.0),
        "mean_b": float(rgb[..., 2].mean() / 255.0),
        "std_r": float(rgb[..., 0].std() / 255.0),
        "std_g": float(rgb[..., 1].std() / 255.0),
        "std_b": float(rgb[..., 2].std() / 255.0),
    }


def _thumbnails(test_data_dir: Path) -> list[tuple[str, Image.Image]]:
    """Real photos, committed edge cases and Tux Paint stamps, decoded as extraction does
    (JPEG draft mode, EXIF orientation, RGB) and shrunk to the 256-px working copy."""
    found = [(name, Image.fromarray(getattr(data, name)()).convert("RGB")) for name in PHOTOS]
    files = [*sorted(test_data_dir.glob("*.jpg")), *sorted(test_data_dir.glob("*.png"))]
    files += sorted(STAMPS.glob("animals/*/*.png"))[:12] if STAMPS.is_dir() else []
    for path in files:
        try:
            decoded = decode_image(path.read_bytes(), str(path), max_pixels=10**8, min_side=256)
        except Exception:  # noqa: BLE001 - the corrupt and truncated samples are not pictures
            continue
        found.append((path.name, decoded.image))
    found.append(("flat", Image.new("RGB", (300, 200), (128, 128, 128))))
    return [(name, make_thumbnail(image, 256)) for name, image in found]


def test_measurements_match_the_plain_formulas_on_real_pictures(test_data_dir: Path) -> None:
    thumbs = _thumbnails(test_data_dir)
    assert len(thumbs) >= len(PHOTOS) + 5
    for name, thumb in thumbs:
        got, want = measure_image(thumb).as_dict(), _reference(thumb)
        for key in ("phash", "dhash", "is_grayscale"):
            assert got[key] == want[key], (name, key)
        for key in EXACT:
            assert got[key] == pytest.approx(want[key], rel=1e-12, abs=1e-15), (name, key)
        for key in ("contrast", "mean_b", "std_r", "std_g", "std_b"):
            assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), (name, key)
        assert got["blur"] == pytest.approx(want["blur"], rel=1e-6, abs=1e-9), name


def test_gray_and_tinted_pictures_are_told_apart() -> None:
    camera = Image.fromarray(data.camera()).convert("RGB")
    assert measure_image(make_thumbnail(camera, 256)).is_grayscale
    tinted = np.asarray(camera).copy()
    red = int(tinted[100, 100, 0])
    tinted[100, 100, 2] = red + 3 if red <= 252 else red - 3  # one pixel off by 3 levels
    assert not measure_image(Image.fromarray(tinted)).is_grayscale
