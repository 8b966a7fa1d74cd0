"""prepare_image: the resize/crop that runs in decode workers, before any model."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from winnow.models import InputSpec, prepare_image

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def three_bands(width: int, height: int, horizontal: bool = True) -> Image.Image:
    """Red | green | blue thirds, side by side (or stacked top to bottom)."""
    image = Image.new("RGB", (width, height))
    for i, colour in enumerate((RED, GREEN, BLUE)):
        if horizontal:
            box = (i * width // 3, 0, (i + 1) * width // 3, height)
        else:
            box = (0, i * height // 3, width, (i + 1) * height // 3)
        image.paste(colour, box)
    return image


@pytest.mark.parametrize("size", [(300, 500), (500, 300), (10, 10), (1, 1), (1000, 7)], ids=str)
@pytest.mark.parametrize("resize", ["center_crop", "squash"])
def test_shape_and_dtype_for_any_input_size(photos, size, resize):
    image = photos["coffee"].resize(size)
    out = prepare_image(image, InputSpec(224, resize))
    assert out.shape == (224, 224, 3)
    assert out.dtype == np.uint8
    assert out.flags["C_CONTIGUOUS"]


def test_center_crop_keeps_the_middle_of_a_landscape_image():
    out = prepare_image(three_bands(300, 100), InputSpec(32, "center_crop"))
    # The central square of a 300x100 image is exactly the green band.
    assert np.all(out[:, 2:-2] == GREEN)


def test_center_crop_keeps_the_middle_of_a_portrait_image():
    out = prepare_image(three_bands(100, 300, horizontal=False), InputSpec(32, "center_crop"))
    assert np.all(out[2:-2, :] == GREEN)


def test_squash_keeps_everything():
    out = prepare_image(three_bands(300, 100), InputSpec(30, "squash"))
    assert np.all(out[:, :8] == RED)
    assert np.all(out[:, 12:18] == GREEN)
    assert np.all(out[:, 22:] == BLUE)


def test_squash_and_center_crop_agree_on_square_images(photos):
    square = photos["astronaut"]  # 512 x 512
    a = prepare_image(square, InputSpec(224, "squash"))
    b = prepare_image(square, InputSpec(224, "center_crop"))
    np.testing.assert_array_equal(a, b)


def test_image_already_at_size_is_returned_unchanged(photos):
    image = photos["chelsea"].crop((0, 0, 64, 64))
    np.testing.assert_array_equal(prepare_image(image, InputSpec(64)), np.asarray(image))


def test_modes_become_rgb():
    grey = Image.new("L", (40, 20), 77)
    assert np.all(prepare_image(grey, InputSpec(8)) == 77)
    palette = Image.new("RGB", (20, 40), BLUE).convert("P")
    assert np.all(prepare_image(palette, InputSpec(8)) == BLUE)


def test_transparent_pixels_become_white():
    # Fully transparent "black" pixels must not turn into a black image.
    rgba = Image.new("RGBA", (16, 16), (0, 0, 0, 0))
    rgba.paste((255, 0, 0, 255), (0, 0, 8, 16))
    out = prepare_image(rgba, InputSpec(16, "squash"))
    assert np.all(out[:, :6] == RED)
    assert np.all(out[:, 10:] == 255)


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(1, 600),
    height=st.integers(1, 600),
    side=st.integers(1, 96),
    resize=st.sampled_from(["center_crop", "squash"]),
)
def test_property_output_shape(width, height, side, resize):
    out = prepare_image(Image.new("RGB", (width, height), (10, 20, 30)), InputSpec(side, resize))
    assert out.shape == (side, side, 3)
    assert out.dtype == np.uint8
    # A flat image stays flat whatever the resampling does.
    assert np.all(out == (10, 20, 30))


def test_input_spec_rejects_bad_values():
    with pytest.raises(ValueError, match="size"):
        InputSpec(0)
    with pytest.raises(ValueError, match="resize"):
        InputSpec(224, "stretch")  # type: ignore[arg-type]


def test_picklable_and_torch_free_in_a_fresh_worker():
    """Decode workers import prepare_image; that must not drag torch into them."""
    assert pickle.loads(pickle.dumps(prepare_image)) is prepare_image
    code = (
        "import sys; from PIL import Image;"
        "from winnow.models import InputSpec, prepare_image;"
        "out = prepare_image(Image.new('RGB', (256, 171)), InputSpec(224));"
        "assert out.shape == (224, 224, 3), out.shape;"
        "heavy = [m for m in ('torch', 'timm', 'open_clip') if m in sys.modules];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
