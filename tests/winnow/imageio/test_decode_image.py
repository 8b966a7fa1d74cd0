"""decode_image on real photos and on the committed edge cases."""

from __future__ import annotations

import io
import math
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile
from skimage import data as skdata

from winnow.errors import DecodeError, TooLargeError
from winnow.imageio import DecodedImage, decode_image

MAX_PIXELS = 100_000_000
SYSTEM_CMYK_PROFILE = Path("/usr/share/color/icc/ghostscript/default_cmyk.icc")
# What each file written by the ``real_images_dir`` fixture must decode as.
EXPECTED = {
    "coffee.jpg": ("coffee", "JPEG", "RGB"),
    "chelsea.png": ("chelsea", "PNG", "RGB"),
    "astronaut_gray.png": ("astronaut", "PNG", "L"),
    "chelsea.webp": ("chelsea", "WEBP", "RGB"),
    "coffee.tif": ("coffee", "TIFF", "RGB"),
    "astronaut.bmp": ("astronaut", "BMP", "RGB"),
    "chelsea_palette.gif": ("chelsea", "GIF", "P"),
    "astronaut_gray.jpg": ("astronaut", "JPEG", "L"),
}


def real_photo(name: str) -> np.ndarray:
    return np.asarray(Image.fromarray(getattr(skdata, name)()).convert("RGB"))


def _decode(data: bytes, **kwargs) -> DecodedImage:
    return decode_image(
        data, "test-source", max_pixels=kwargs.pop("max_pixels", MAX_PIXELS), **kwargs
    )


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _pixels(decoded: DecodedImage) -> np.ndarray:
    return np.asarray(decoded.image).astype(np.int16)


# -- real photos ------------------------------------------------------------------------


def test_the_fixture_wrote_the_expected_files(real_images_dir: Path):
    assert {path.name for path in real_images_dir.iterdir()} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_photos_decode_to_full_size_rgb_with_their_facts(real_images_dir: Path, name: str):
    photo, fmt, mode = EXPECTED[name]
    height, width = real_photo(photo).shape[:2]

    decoded = _decode((real_images_dir / name).read_bytes())

    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (width, height)
    assert (decoded.width, decoded.height) == (width, height)
    assert decoded.format == fmt
    assert decoded.mode == mode
    assert (decoded.has_alpha, decoded.n_frames, decoded.exif_orientation) == (False, 1, None)
    assert decoded.has_exif is False
    assert decoded.source == "test-source"


@pytest.mark.parametrize(
    ("name", "tolerance"),
    [
        ("chelsea.png", 0),
        ("coffee.tif", 0),
        ("astronaut.bmp", 0),
        ("coffee.jpg", 4),
        ("chelsea.webp", 6),
    ],
)
def test_colour_pixels_match_the_original_photo(real_images_dir, name, tolerance):
    photo = EXPECTED[name][0]
    decoded = _decode((real_images_dir / name).read_bytes())

    difference = np.abs(_pixels(decoded) - real_photo(photo).astype(np.int16))
    assert difference.mean() <= tolerance


def test_grayscale_becomes_three_equal_channels(real_images_dir: Path):
    decoded = _decode((real_images_dir / "astronaut_gray.png").read_bytes())
    expected = np.asarray(Image.fromarray(real_photo("astronaut")).convert("L"))

    rgb = np.asarray(decoded.image)
    assert decoded.mode == "L"
    for channel in range(3):
        assert np.array_equal(rgb[..., channel], expected)


@pytest.mark.parametrize("name", ["coffee.jpg", "chelsea.png", "chelsea_palette.gif"])
def test_gray_decodes_to_the_luma_of_the_colour_decode(real_images_dir: Path, name: str):
    """A colour JPEG hands over its luma plane (no colour conversion); other formats are
    converted. Either way the pixels are the colour decode's gray, to JPEG rounding."""
    data = (real_images_dir / name).read_bytes()
    gray, colour = _decode(data, gray=True), _decode(data)
    assert gray.image.mode == "L" and gray.image.size == colour.image.size
    assert (gray.width, gray.height, gray.mode) == (colour.width, colour.height, colour.mode)
    diff = np.abs(np.asarray(gray.image, np.int16) - np.asarray(colour.image.convert("L")))
    # a few saturated pixels differ more (the RGB path clips them before taking luma)
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 1
    if name.endswith(".jpg"):  # and at a reduced DCT scale too
        assert _decode(data, gray=True, min_side=100).image.size == (150, 100)


# -- JPEG draft decoding (min_side) -----------------------------------------------------


def test_min_side_decodes_a_jpeg_at_a_reduced_scale(real_images_dir: Path):
    decoded = _decode((real_images_dir / "coffee.jpg").read_bytes(), min_side=100)

    assert decoded.image.size == (150, 100)  # 600x400 at DCT scale 1/4
    assert (decoded.width, decoded.height) == (600, 400)
    shrunk = Image.fromarray(real_photo("coffee")).resize((150, 100), Image.Resampling.BOX)
    assert np.abs(_pixels(decoded) - np.asarray(shrunk).astype(np.int16)).mean() < 8


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=700))
def test_draft_keeps_the_shorter_side_at_least_min_side_and_reduces_maximally(min_side):
    data = _COFFEE_JPEG()
    image = _decode(data, min_side=min_side).image
    scale = 600 // image.width

    assert scale in (1, 2, 4, 8)
    assert image.size == (600 // scale, 400 // scale)
    assert min(image.size) >= min(min_side, 400)
    if scale < 8:  # the next coarser DCT scale would have gone below min_side
        assert 400 / (2 * scale) < min_side


def _COFFEE_JPEG() -> bytes:
    if not hasattr(_COFFEE_JPEG, "data"):
        _COFFEE_JPEG.data = _encode(Image.fromarray(real_photo("coffee")), "JPEG", quality=90)
    return _COFFEE_JPEG.data


def test_min_side_does_not_reduce_other_formats(real_images_dir: Path):
    decoded = _decode((real_images_dir / "chelsea.png").read_bytes(), min_side=50)

    assert decoded.image.size == (451, 300)


# -- committed edge cases ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("zero.jpg", "zero_byte"),
        ("text.jpg", "not_an_image"),
        ("truncated.jpg", "truncated"),
        ("corrupt.jpg", "corrupt"),
    ],
)
def test_broken_files_raise_decode_error_of_their_kind(test_data_dir: Path, name, kind):
    with pytest.raises(DecodeError) as info:
        _decode((test_data_dir / name).read_bytes())

    assert info.value.kind == kind
    assert info.value.source == "test-source"


def test_zero_byte_message(test_data_dir: Path):
    with pytest.raises(DecodeError, match="zero-byte file"):
        _decode(b"")


def test_wrong_extension_reports_the_real_format(test_data_dir: Path):
    decoded = _decode((test_data_dir / "wrong_ext.png").read_bytes())

    assert decoded.format == "JPEG"
    assert decoded.image.size == (160, 106)


def test_cmyk_jpeg_keeps_its_colours(test_data_dir: Path):
    decoded = _decode((test_data_dir / "cmyk.jpg").read_bytes())
    rgb = _pixels(decoded)

    assert decoded.mode == "CMYK"
    red_patch = rgb[2:20, 2:20].reshape(-1, 3).mean(axis=0)
    assert red_patch[0] > 200 and red_patch[1] < 60 and red_patch[2] < 60
    expected = np.asarray(
        Image.fromarray(real_photo("chelsea")).resize((160, 106), Image.Resampling.LANCZOS)
    ).astype(np.int16)
    outside = (slice(30, None), slice(30, None))
    assert np.abs(rgb[outside] - expected[outside]).mean() < 8


@pytest.mark.skipif(not SYSTEM_CMYK_PROFILE.exists(), reason="no CMYK ICC profile on this host")
def test_cmyk_with_an_icc_profile_is_colour_managed():
    photo = Image.fromarray(real_photo("chelsea"))
    cmyk_profile = ImageCms.ImageCmsProfile(str(SYSTEM_CMYK_PROFILE))
    srgb = ImageCms.createProfile("sRGB")
    cmyk = ImageCms.profileToProfile(photo, srgb, cmyk_profile, outputMode="CMYK")
    data = _encode(cmyk, "JPEG", quality=95, icc_profile=cmyk_profile.tobytes())

    managed = np.abs(_pixels(_decode(data)) - np.asarray(photo).astype(np.int16)).mean()
    naive = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)
    naive_error = np.abs(naive - np.asarray(photo).astype(np.int16)).mean()

    assert managed < 8
    assert managed < naive_error / 2


def test_16_bit_png_is_scaled_not_clipped(test_data_dir: Path):
    raw = np.asarray(Image.open(test_data_dir / "gray16.png")).astype(np.float64)
    decoded = _decode((test_data_dir / "gray16.png").read_bytes())
    gray = _pixels(decoded)[..., 0]

    assert decoded.mode == "I;16"
    assert raw.max() > 255  # really 16-bit data
    assert (gray.min(), gray.max()) == (0, 255)
    assert 40 < gray.mean() < 215
    assert np.corrcoef(gray.ravel(), raw.ravel())[0, 1] > 0.999


def test_12_bit_data_in_a_16_bit_png_uses_the_full_8_bit_range():
    gray = np.asarray(Image.fromarray(real_photo("astronaut")).convert("L")).astype(np.uint16)
    twelve_bit = (gray * 16).astype(np.uint16)  # 0..4080, as from a 12-bit sensor
    decoded = _decode(_encode(Image.fromarray(twelve_bit), "PNG"))

    out = _pixels(decoded)[..., 0]
    assert (out.min(), out.max()) == (gray.min(), gray.max())
    assert np.abs(out - gray.astype(np.int16)).max() <= 1


def test_float_tiff_is_scaled_by_its_range():
    gray = np.asarray(Image.fromarray(real_photo("coffee")).convert("L")).astype(np.float32)
    decoded = _decode(_encode(Image.fromarray(gray / 1000.0 - 0.1, "F"), "TIFF"))

    out = _pixels(decoded)[..., 0]
    assert decoded.mode == "F"
    assert (out.min(), out.max()) == (0, 255)
    assert np.corrcoef(out.ravel(), gray.ravel())[0, 1] > 0.999


def test_animated_gif_uses_the_first_frame_and_counts_frames(test_data_dir: Path):
    data = (test_data_dir / "animated.gif").read_bytes()
    decoded = _decode(data)
    frames = Image.open(io.BytesIO(data))
    first = np.asarray(frames.convert("RGB")).astype(np.int16)
    frames.seek(1)
    second = np.asarray(frames.convert("RGB")).astype(np.int16)

    assert decoded.n_frames == 3
    assert decoded.mode == "P"
    assert np.array_equal(_pixels(decoded), first)
    assert not np.array_equal(_pixels(decoded), second)


@pytest.mark.parametrize(("fmt", "options"), [("WEBP", {"lossless": True}), ("TIFF", {})])
def test_multi_frame_webp_and_tiff_count_frames(fmt, options):
    photo = Image.fromarray(real_photo("chelsea")).resize((120, 80))
    pages = [photo, photo.rotate(180), photo.convert("L").convert("RGB")]
    data = _encode(pages[0], fmt, save_all=True, append_images=pages[1:], **options)

    decoded = _decode(data)

    assert decoded.n_frames == 3
    assert np.abs(_pixels(decoded) - np.asarray(photo).astype(np.int16)).mean() < 1


def test_rgba_png_is_composited_on_white(test_data_dir: Path):
    data = (test_data_dir / "rgba.png").read_bytes()
    rgba = np.asarray(Image.open(io.BytesIO(data))).astype(np.int16)
    decoded = _decode(data)
    rgb = _pixels(decoded)

    assert (decoded.mode, decoded.has_alpha) == ("RGBA", True)
    assert (rgba[0, 0, 3], rgba[48, 48, 3], rgba[48, 8, 3]) == (0, 255, 128)
    assert rgb[0, 0].tolist() == [255, 255, 255]  # fully transparent corner
    assert rgb[48, 48].tolist() == rgba[48, 48, :3].tolist()  # opaque centre unchanged
    blended = (rgba[48, 8, :3].astype(float) * 128 + 255 * 127) / 255  # half-transparent ring
    assert np.abs(rgb[48, 8] - blended).max() <= 1


def test_opaque_alpha_channel_is_not_reported_as_alpha():
    photo = Image.fromarray(real_photo("chelsea"))
    decoded = _decode(_encode(photo.convert("RGBA"), "PNG"))

    assert (decoded.mode, decoded.has_alpha) == ("RGBA", False)
    assert np.array_equal(np.asarray(decoded.image), np.asarray(photo))


def test_palette_transparency_counts_as_alpha():
    palette = Image.fromarray(real_photo("chelsea")).quantize(255)
    palette.paste(255, (0, 0, 40, 30))  # index 255 is unused by the photo: make it transparent
    decoded = _decode(_encode(palette, "GIF", transparency=255))

    assert (decoded.mode, decoded.has_alpha) == ("P", True)
    assert (np.asarray(decoded.image)[:30, :40] == 255).all()
    assert (np.asarray(decoded.image)[30:, 40:] < 255).any()


def test_la_and_bilevel_modes_become_rgb():
    gray = Image.fromarray(real_photo("astronaut")).convert("L")
    la = Image.merge("LA", [gray, Image.new("L", gray.size, 255)])
    la.putpixel((0, 0), (10, 0))

    decoded_la = _decode(_encode(la, "PNG"))
    decoded_1 = _decode(_encode(gray.convert("1"), "PNG"))

    assert (decoded_la.mode, decoded_la.has_alpha) == ("LA", True)
    assert decoded_la.image.getpixel((0, 0)) == (255, 255, 255)
    assert decoded_1.mode == "1"
    assert set(np.unique(np.asarray(decoded_1.image))) == {0, 255}


# -- EXIF orientation -------------------------------------------------------------------


def test_exif_rotated_jpeg_is_displayed_upright(test_data_dir: Path):
    decoded = _decode((test_data_dir / "exif_rotated.jpg").read_bytes())
    rgb = _pixels(decoded)

    assert (decoded.has_exif, decoded.exif_orientation) == (True, 6)
    assert (decoded.width, decoded.height) == (90, 150)
    assert decoded.image.size == (90, 150)
    assert _is_red(rgb[2:20, 2:20])  # the marker sits top-left once displayed
    for corner in (rgb[2:20, -20:-2], rgb[-20:-2, 2:20], rgb[-20:-2, -20:-2]):
        assert not _is_red(corner)


def test_exif_rotation_survives_draft_decoding(test_data_dir: Path):
    decoded = _decode((test_data_dir / "exif_rotated.jpg").read_bytes(), min_side=40)
    rgb = _pixels(decoded)

    assert decoded.image.size == (45, 75)  # stored 150x90 at 1/2, then rotated
    assert (decoded.width, decoded.height) == (90, 150)
    assert _is_red(rgb[1:10, 1:10])


def _is_red(patch: np.ndarray) -> bool:
    r, g, b = patch.reshape(-1, 3).mean(axis=0)
    return bool(r > 180 and g < 80 and b < 80)


def _stored_for(displayed: np.ndarray, orientation: int) -> np.ndarray:
    """How a camera stores ``displayed`` for each EXIF orientation (EXIF 2.32, tag 0x0112:
    which visual side row 0 and column 0 of the stored image show)."""
    return {
        1: lambda d: d,  # row 0 top, column 0 left
        2: np.fliplr,  # row 0 top, column 0 right
        3: lambda d: np.rot90(d, 2),  # row 0 bottom, column 0 right
        4: np.flipud,  # row 0 bottom, column 0 left
        5: lambda d: d.transpose(1, 0, 2),  # row 0 left, column 0 top
        6: lambda d: np.rot90(d, 1),  # row 0 right, column 0 top
        7: lambda d: np.fliplr(np.rot90(d, 1)),  # row 0 right, column 0 bottom
        8: lambda d: np.rot90(d, -1),  # row 0 left, column 0 bottom
    }[orientation](displayed)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_undone(orientation: int):
    displayed = np.array(Image.fromarray(real_photo("astronaut")).resize((64, 96)))
    displayed[:16, :16] = (255, 0, 0)  # top-left red, top-right green: no symmetry hides
    displayed[:16, -16:] = (0, 255, 0)
    stored = np.ascontiguousarray(_stored_for(displayed, orientation))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes())

    decoded = _decode(data)

    assert decoded.exif_orientation == orientation
    assert (decoded.width, decoded.height) == (64, 96)
    assert np.abs(_pixels(decoded) - displayed.astype(np.int16)).mean() < 6


def test_invalid_orientation_value_is_ignored():
    exif = Image.Exif()
    exif[0x0112] = 9
    photo = Image.fromarray(real_photo("coffee"))
    decoded = _decode(_encode(photo, "JPEG", exif=exif.tobytes()))

    assert (decoded.has_exif, decoded.exif_orientation) == (True, None)
    assert (decoded.width, decoded.height) == (600, 400)


# -- damaged, foreign and oversized input -----------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP", "TIFF", "BMP", "JPEG"])
def test_files_cut_in_half_are_truncated(fmt: str):
    data = _encode(Image.fromarray(real_photo("chelsea")), fmt)

    with pytest.raises(DecodeError) as info:
        _decode(data[: len(data) // 2])
    assert info.value.kind == "truncated"


def test_eps_is_refused_without_running_ghostscript():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(DecodeError) as info:
        _decode(eps)
    assert info.value.kind == "not_an_image"


def test_heif_is_named_but_unsupported():
    heic = struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0mif1heic" + b"\0" * 64
    with pytest.raises(DecodeError, match="HEIF") as info:
        _decode(heic)
    assert info.value.kind == "unsupported"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_decode_or_raise_an_image_error(data: bytes):
    try:
        decoded = _decode(data, max_pixels=4_000_000)
    except (DecodeError, TooLargeError):
        return
    assert decoded.image.mode == "RGB"


def _bilevel_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG, compressed row by row: no pixel buffer is ever built."""
    row = b"\0" * (1 + math.ceil(width / 8))  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_is_refused():
    bomb = _bilevel_png(20_000, 20_000)  # 400 Mpx in about 50 KB
    assert len(bomb) < 100_000

    with pytest.raises(TooLargeError):
        _decode(bomb)


def test_pixel_limit_is_checked_from_the_header():
    small_bomb = _bilevel_png(3000, 3000)

    with pytest.raises(TooLargeError, match="3000x3000 = 9000000 pixels exceeds max_pixels"):
        _decode(small_bomb, max_pixels=1_000_000)
    assert _decode(small_bomb, max_pixels=9_000_000).image.size == (3000, 3000)


_MEMORY_PROBE = """
import resource, sys
from winnow.errors import TooLargeError
from winnow.imageio import decode_image
bomb = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    decode_image(bomb, "bomb.png", max_pixels=100_000_000)
except TooLargeError:
    pass
else:
    sys.exit("no TooLargeError")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_refusing_a_bomb_allocates_no_pixels(tmp_path: Path):
    """144 Mpx is under Pillow's own hard limit, so only our header check can stop it; had it
    decoded, the process would have grown by 144 MB (L) or 432 MB (RGB)."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_bilevel_png(12_000, 12_000))
    probe = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _MEMORY_PROBE, str(bomb)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    grown_kib = int(probe.stdout.strip())
    assert grown_kib < 20_000


def test_pillow_globals_are_left_alone(test_data_dir: Path):
    limit, truncated = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    with pytest.raises(DecodeError):
        _decode((test_data_dir / "truncated.jpg").read_bytes())
    with pytest.raises(TooLargeError):
        _decode((test_data_dir / "exif_rotated.jpg").read_bytes(), max_pixels=10)
    assert (limit, truncated) == (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
