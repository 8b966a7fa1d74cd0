import imagehash
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, ImageFilter
from skimage import data

from winnow.features.measure import hash_to_int64, make_thumbnail, measure_image


def _coffee() -> Image.Image:
    return Image.fromarray(data.coffee())


@settings(max_examples=40, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 40), st.integers(1, 40), st.just(3))))
def test_measurements_stay_in_documented_ranges(pixels: np.ndarray) -> None:
    m = measure_image(Image.fromarray(pixels))
    assert 0.0 <= m.brightness <= 1.0
    assert 0.0 <= m.contrast <= 0.5
    assert 0.0 <= m.dark_fraction <= 1.0 and 0.0 <= m.bright_fraction <= 1.0
    assert 0.0 <= m.entropy <= 8.0 + 1e-9
    assert m.blur >= 0.0


def test_hash_packing_matches_imagehash_hex() -> None:
    h = imagehash.phash(_coffee())
    packed = hash_to_int64(h)
    assert packed.to_bytes(8, "big", signed=True).hex() == str(h)


def test_blur_drops_on_a_blurred_photo() -> None:
    sharp = make_thumbnail(_coffee(), 256)
    blurred = sharp.filter(ImageFilter.GaussianBlur(3))
    assert measure_image(blurred).blur < 0.2 * measure_image(sharp).blur


def test_dark_gray_and_flat_images() -> None:
    dark = measure_image(Image.new("RGB", (64, 64), (5, 5, 5)))
    assert dark.dark_fraction == 1.0 and dark.brightness < 0.03 and dark.entropy == 0.0
    gray = Image.fromarray(data.camera()).convert("RGB")
    assert measure_image(gray).is_grayscale
    assert not measure_image(_coffee()).is_grayscale


def test_thumbnail_keeps_aspect_and_never_enlarges() -> None:
    thumb = make_thumbnail(_coffee(), 256)  # coffee is 600x400
    assert thumb.size == (256, 171)
    small = Image.new("RGB", (50, 20))
    assert make_thumbnail(small, 256) is small


def test_phash_survives_recompression_and_resize() -> None:
    photo = _coffee()
    variant = photo.resize((300, 200)).filter(ImageFilter.SHARPEN)
    a = np.int64(measure_image(make_thumbnail(photo, 256)).phash).view(np.uint64)
    b = np.int64(measure_image(make_thumbnail(variant, 256)).phash).view(np.uint64)
    assert int(np.bitwise_count(a ^ b)) <= 6
