"""Regenerate the committed edge-case images from scikit-image's bundled photos.

Run from the repository root: ``python tests/data/make_edge_cases.py``. Each file is a real
photo (astronaut, chelsea, coffee: public domain / CC0, shipped with scikit-image) broken or
encoded in one specific way; the script checks that each file has the property it is for.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import color, data

HERE = Path(__file__).resolve().parent
RED_PATCH = 24  # side of the pure-red marker square in cmyk.jpg and exif_rotated.jpg


def _jpeg(image: Image.Image, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85, **options)
    return buffer.getvalue()


def _photo(name: str, size: tuple[int, int]) -> Image.Image:
    return (
        Image.fromarray(getattr(data, name)()).convert("RGB").resize(size, Image.Resampling.LANCZOS)
    )


def _fails_to_load(blob: bytes) -> bool:
    try:
        Image.open(io.BytesIO(blob)).load()
    except OSError:
        return True
    return False


def corrupt_jpeg() -> bytes:
    """Random bytes overwrite 64 bytes in the middle; pick the first seed libjpeg rejects."""
    clean = _jpeg(_photo("chelsea", (240, 160)))
    middle = len(clean) // 2
    for seed in range(100):
        garbage = np.random.default_rng(seed).integers(0, 256, 64, dtype=np.uint8).tobytes()
        blob = clean[:middle] + garbage + clean[middle + 64 :]
        if _fails_to_load(blob) and b"truncated" not in _error(blob):
            return blob
    raise RuntimeError("no seed produced a detectably corrupt JPEG")


def _error(blob: bytes) -> bytes:
    try:
        Image.open(io.BytesIO(blob)).load()
    except OSError as exc:
        return str(exc).encode()
    return b""


def cmyk_jpeg() -> bytes:
    photo = _photo("chelsea", (160, 106))
    photo.paste((255, 0, 0), (0, 0, RED_PATCH, RED_PATCH))
    return _jpeg(photo.convert("CMYK"))


def gray16_png() -> bytes:
    gray = color.rgb2gray(data.astronaut())  # floats in [0, 1]
    small = np.asarray(Image.fromarray(gray.astype(np.float32), "F").resize((128, 128)))
    values = np.round(np.clip(small, 0, 1) * 65535).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, "PNG")  # mode I;16
    return buffer.getvalue()


def animated_gif() -> bytes:
    source = _photo("chelsea", (160, 106))
    frames = [source.crop((dx, 0, dx + 96, 64)).quantize(64) for dx in (0, 30, 60)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def rgba_png() -> bytes:
    """Opaque centre disc, half-transparent ring, fully transparent corners."""
    photo = _photo("astronaut", (96, 96)).convert("RGBA")
    yy, xx = np.mgrid[:96, :96]
    radius = np.hypot(yy - 47.5, xx - 47.5)
    alpha = np.where(radius < 32, 255, np.where(radius < 44, 128, 0)).astype(np.uint8)
    photo.putalpha(Image.fromarray(alpha, "L"))
    buffer = io.BytesIO()
    photo.save(buffer, "PNG")
    return buffer.getvalue()


def exif_rotated_jpeg() -> bytes:
    """Displayed: a 90x150 portrait with a red square top-left. Stored: landscape + tag 6."""
    displayed = _photo("astronaut", (90, 150))
    displayed.paste((255, 0, 0), (0, 0, RED_PATCH, RED_PATCH))
    stored = displayed.transpose(Image.Transpose.ROTATE_90)  # 150x90; tag 6 rotates it back
    exif = Image.Exif()
    exif[0x0112] = 6
    return _jpeg(stored, exif=exif.tobytes())


def main() -> None:
    coffee = _jpeg(_photo("coffee", (240, 160)))
    files = {
        "corrupt.jpg": corrupt_jpeg(),
        "truncated.jpg": coffee[: len(coffee) // 2],
        "zero.jpg": b"",
        "text.jpg": b"This is a text file that was given a .jpg name by mistake.\n" * 4,
        "cmyk.jpg": cmyk_jpeg(),
        "gray16.png": gray16_png(),
        "animated.gif": animated_gif(),
        "rgba.png": rgba_png(),
        "exif_rotated.jpg": exif_rotated_jpeg(),
        "wrong_ext.png": _jpeg(_photo("coffee", (160, 106))),
    }
    for name, blob in files.items():
        assert len(blob) < 50_000, f"{name} is {len(blob)} bytes; keep test data small"
        (HERE / name).write_bytes(blob)


if __name__ == "__main__":
    main()
