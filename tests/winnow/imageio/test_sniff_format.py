"""sniff_format names a format from its first bytes, as Pillow would after a full parse."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, features
from skimage import data as skdata

from winnow.imageio import sniff_format

KNOWN = {
    "JPEG",
    "PNG",
    "GIF",
    "WEBP",
    "TIFF",
    "BMP",
    "ICO",
    "PPM",
    "JPEG2000",
    "QOI",
    "PSD",
    "AVIF",
    "HEIF",
}


def _photo() -> Image.Image:
    return Image.fromarray(skdata.chelsea()).resize((90, 60))


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _pillow_format(data: bytes) -> str | None:
    try:
        return Image.open(io.BytesIO(data)).format
    except Exception:  # noqa: BLE001 - anything Pillow cannot open has no format
        return None


def test_agrees_with_pillow_on_every_real_image(real_images_dir: Path):
    for path in sorted(real_images_dir.iterdir()):
        blob = path.read_bytes()
        assert sniff_format(blob) == _pillow_format(blob), path.name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wrong_ext.png", "JPEG"),
        ("cmyk.jpg", "JPEG"),
        ("gray16.png", "PNG"),
        ("animated.gif", "GIF"),
        ("truncated.jpg", "JPEG"),  # cut short, but the magic bytes are intact
        ("corrupt.jpg", "JPEG"),
        ("text.jpg", None),
        ("zero.jpg", None),
    ],
)
def test_names_the_committed_edge_cases(test_data_dir: Path, name: str, expected: str | None):
    assert sniff_format((test_data_dir / name).read_bytes()) == expected


WRITABLE = [
    ("ICO", "RGB"),
    ("PPM", "RGB"),
    ("PPM", "L"),
    ("PPM", "1"),
    ("QOI", "RGB"),
    ("TIFF", "RGB"),
    ("WEBP", "RGB"),
    ("BMP", "P"),
]
if features.check("jpg_2000"):
    WRITABLE.append(("JPEG2000", "RGB"))
if features.check("avif"):
    WRITABLE.append(("AVIF", "RGB"))


@pytest.mark.parametrize(("fmt", "mode"), WRITABLE)
def test_agrees_with_pillow_on_other_formats(fmt: str, mode: str):
    blob = _encode(_photo().convert(mode), fmt)

    assert _pillow_format(blob) == fmt
    assert sniff_format(blob) == fmt
    assert sniff_format(blob[:32]) == fmt  # the head alone is enough


def test_plain_text_netpbm_is_ppm():
    plain = b"P3\n2 1\n255\n255 0 0  0 0 255\n"
    assert sniff_format(plain) == _pillow_format(plain) == "PPM"


@pytest.mark.parametrize(
    "blob",
    [
        b"BMW and other cars\n" * 3,
        b"P9 not netpbm",
        b"GIF88a",
        b"\x89PNG",
        b"RIFF\0\0\0\0WAVE",
        b"",
    ],
)
def test_near_misses_are_not_images(blob: bytes):
    assert sniff_format(blob) is None


@given(st.binary(max_size=64))
def test_never_raises_and_only_names_known_formats(blob: bytes):
    assert sniff_format(blob) in KNOWN | {None}


@given(st.binary(max_size=32), st.binary(max_size=64))
def test_depends_only_on_the_first_32_bytes(head: bytes, tail: bytes):
    png_head = _encode(_photo(), "PNG")[:32]
    assert sniff_format(png_head + tail) == "PNG"
    assert sniff_format(head.ljust(32, b"\0") + tail) == sniff_format(head.ljust(32, b"\0"))
