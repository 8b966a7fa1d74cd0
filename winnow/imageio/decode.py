"""Decode image bytes once into RGB pixels plus the facts the integrity audit needs.

The file is parsed once: the header gives size, format and mode, the pixel limit is enforced
before any pixel is decoded, and JPEGs can be decoded at a reduced DCT scale (draft mode)
when the caller only needs a small working copy, which is most of the decode cost saved.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

from PIL import Image

from winnow.errors import DecodeError, TooLargeError
from winnow.imageio.modes import to_rgb
from winnow.imageio.sniff import sniff_format

# Formats Winnow decodes. Anything else (EPS runs Ghostscript, for one) is refused unparsed.
_DECODABLE = ("JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "ICO", "PPM", "JPEG2000", "AVIF", "QOI")
_ORIENTATION_TAG = 0x0112
_EXIF_IFD_TAG = 0x8769
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class DecodedImage:
    """Pixels ready for analysis plus what the file itself says about them."""

    source: str
    image: Image.Image  # mode RGB (L when asked), EXIF orientation applied; JPEGs may be reduced
    format: str  # from the bytes, not the file name: "JPEG", "PNG", ...
    width: int  # displayed size (after EXIF orientation) at full resolution
    height: int
    mode: str  # the file's own mode: "RGB", "L", "RGBA", "P", "CMYK", "I;16", "1", ...
    has_exif: bool
    exif_orientation: int | None  # 1..8 when the tag is present and valid
    has_alpha: bool  # some pixel is not fully opaque (alpha channel or palette transparency)
    n_frames: int  # > 1 for animations and multi-page files; the first frame is used


def decode_image(
    data: bytes, source: str, *, max_pixels: int, min_side: int | None = None, gray: bool = False
) -> DecodedImage:
    """Decode ``data``; raise :class:`DecodeError` or :class:`TooLargeError` with a clear kind.

    ``min_side``: the caller will shrink the image so its shorter side is about this long;
    JPEGs are then decoded at the smallest DCT scale that keeps the shorter side >= min_side.
    ``gray``: the pixels come back in mode L; a colour JPEG then hands over its luma plane
    without colour conversion or chroma upsampling (about half the decode time of RGB).
    """
    if not data:
        raise DecodeError(source, "zero-byte file", kind="zero_byte")
    image = _open(data, source)
    width, height = image.size
    if width <= 0 or height <= 0:
        raise DecodeError(source, f"invalid size {width}x{height}", kind="corrupt")
    if width * height > max_pixels:
        raise TooLargeError(
            source, f"{width}x{height} = {width * height} pixels exceeds max_pixels {max_pixels}"
        )
    file_format = "JPEG" if image.format == "MPO" else str(image.format)
    mode = image.mode
    n_frames = _frame_count(image)
    reduce = min_side is not None and min_side > 0
    if file_format == "JPEG" and (reduce or gray):
        image.draft("L" if gray else "RGB", (min_side, min_side) if reduce else None)
    _load(image, data, source)
    has_exif, orientation = _exif(image)
    try:
        rgb, has_alpha = (image, False) if gray and image.mode == "L" else to_rgb(image)
    except (ValueError, OSError) as exc:
        reason = f"cannot convert mode {mode} to RGB: {exc}"
        raise DecodeError(source, reason, kind="unsupported") from exc
    if gray and rgb.mode != "L":
        rgb = rgb.convert("L")
    if orientation in _TRANSPOSE:
        rgb = rgb.transpose(_TRANSPOSE[orientation])
        if orientation >= 5:
            width, height = height, width
    return DecodedImage(
        source=source,
        image=rgb,
        format=file_format,
        width=width,
        height=height,
        mode=mode,
        has_exif=has_exif,
        exif_orientation=orientation,
        has_alpha=has_alpha,
        n_frames=n_frames,
    )


def _open(data: bytes, source: str) -> Image.Image:
    """Parse the header only. Pillow's own bomb check fires here for absurd sizes."""
    try:
        return Image.open(io.BytesIO(data), formats=_decodable_formats())
    except Image.DecompressionBombError as exc:
        raise TooLargeError(source, f"decompression bomb refused: {exc}") from exc
    except MemoryError:
        raise
    except Image.UnidentifiedImageError as exc:
        sniffed = sniff_format(data)
        if sniffed is None:
            raise DecodeError(source, "not an image file", kind="not_an_image") from exc
        if sniffed not in _DECODABLE:
            reason = f"{sniffed} images are not supported"
            raise DecodeError(source, reason, kind="unsupported") from exc
        raise _broken(data, source, sniffed, exc) from exc
    except Exception as exc:
        raise _broken(data, source, sniff_format(data), exc) from exc


def _load(image: Image.Image, data: bytes, source: str) -> None:
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise TooLargeError(source, f"decompression bomb refused: {exc}") from exc
    except MemoryError:
        raise
    except Exception as exc:
        raise _broken(data, source, image.format, exc) from exc


def _broken(data: bytes, source: str, fmt: str | None, exc: Exception) -> DecodeError:
    """A DecodeError saying whether the file was cut short or is damaged."""
    message = str(exc) or type(exc).__name__
    truncated = isinstance(exc, EOFError) or "truncat" in message.lower() or "EOF" in message
    kind = "truncated" if truncated or _declared_longer(data, fmt) else "corrupt"
    name = fmt or "image"
    return DecodeError(source, f"{kind} {name} file: {message}", kind=kind)


def _declared_longer(data: bytes, fmt: str | None) -> bool:
    """True when the container header points past the end of the bytes (a cut-off file)."""
    if fmt == "WEBP" and len(data) >= 8:
        return int.from_bytes(data[4:8], "little") + 8 > len(data)
    if fmt == "TIFF" and len(data) >= 8:
        order = "little" if data[:2] == b"II" else "big"
        return int.from_bytes(data[4:8], order) >= len(data)
    return False


@cache
def _decodable_formats() -> tuple[str, ...]:
    Image.init()  # registers every plugin once, so optional ones (AVIF, ...) are known
    return tuple(name for name in _DECODABLE if name in Image.OPEN)


def _frame_count(image: Image.Image) -> int:
    try:
        count = int(getattr(image, "n_frames", 1))
        if count > 1:
            image.seek(0)
    except Exception:  # noqa: BLE001 - a bad later frame must not hide a good first one
        return 1
    return max(count, 1)


def _exif(image: Image.Image) -> tuple[bool, int | None]:
    """``(has_exif, orientation)``. A TIFF's own tags are not EXIF unless it has an EXIF IFD."""
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - corrupt EXIF is ignored, the pixels are still usable
        return False, None
    if image.format == "TIFF":
        has_exif = _EXIF_IFD_TAG in exif
    else:
        has_exif = "exif" in image.info or len(exif) > 0
    orientation = exif.get(_ORIENTATION_TAG)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        return has_exif, orientation
    return has_exif, None
