"""An uploaded image, read within limits and decoded by its bytes, never its name.

The request body never exceeds ``max_upload_bytes`` plus the multipart framing: the guard
refuses a larger ``Content-Length`` before reading, and a chunked body is cut at that size
(:mod:`serve.guard`). Here the file part is read back from its spool file, at most one byte
over the limit (413). The format is sniffed from the magic bytes (415 for anything that is
not an image) and ``serve.max_pixels``, well below the batch jobs' ``io.max_pixels``, is
checked before any pixel is decoded (413 for decompression bombs). JPEGs decode in draft
mode at the model's input size, which is most of the per-upload cost saved.

Everything here blocks: callers run it through :class:`serve.slots.WorkSlots`.
"""

from __future__ import annotations

from typing import BinaryIO

from fastapi import UploadFile

from serve.errors import ApiError
from winnow.config import Settings
from winnow.errors import DecodeError, TooLargeError
from winnow.imageio import decode_image
from winnow.imageio.decode import DecodedImage
from winnow.imageio.sniff import sniff_format


def read_upload(stream: BinaryIO, *, max_bytes: int) -> bytes:
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(413, "too_large", f"upload exceeds the {max_bytes}-byte limit")
    if not data:
        raise ApiError(400, "empty_file", "the uploaded file is empty")
    return data


def decode_upload(data: bytes, name: str, *, max_pixels: int, min_side: int) -> DecodedImage:
    if sniff_format(data) is None:
        raise ApiError(415, "not_an_image", "the upload is not an image format Winnow reads")
    try:
        return decode_image(data, name or "upload", max_pixels=max_pixels, min_side=min_side)
    except TooLargeError as exc:
        raise ApiError(413, "too_many_pixels", exc.reason) from exc
    except DecodeError as exc:
        raise ApiError(400, exc.kind, f"cannot decode the image: {exc.reason}") from exc


def upload_pixel_limit(settings: Settings) -> int:
    """The API's pixel limit: ``serve.max_pixels``, never above the batch ``io.max_pixels``."""
    return min(settings.serve.max_pixels, settings.io.max_pixels)


def upload_image(file: UploadFile, settings: Settings) -> DecodedImage:
    """An uploaded image read within the byte limit and decoded within the API's pixel limit."""
    data = read_upload(file.file, max_bytes=settings.serve.max_upload_bytes)
    return decode_upload(
        data,
        file.filename or "upload",
        max_pixels=upload_pixel_limit(settings),
        min_side=settings.features.thumb_size,
    )
