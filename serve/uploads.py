"""An uploaded image, read within limits and decoded by its bytes, never its name.

The body is read in chunks and refused as soon as it passes ``max_upload_bytes`` (413), so
a 50 MB upload costs at most the limit in memory. The format is sniffed from the magic
bytes (415 for anything that is not an image) and the pixel limit is checked before any
pixel is decoded (413 for decompression bombs). JPEGs decode in draft mode at the model's
input size, which is most of the per-upload cost saved.
"""

from __future__ import annotations

from fastapi import UploadFile
from fastapi.concurrency import run_in_threadpool

from serve.errors import ApiError
from winnow.config import Settings
from winnow.errors import DecodeError, TooLargeError
from winnow.imageio import decode_image
from winnow.imageio.decode import DecodedImage
from winnow.imageio.sniff import sniff_format

_CHUNK = 1 << 20


async def read_upload(upload: UploadFile, *, max_bytes: int) -> bytes:
    chunks, total = [], 0
    while chunk := await upload.read(_CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise ApiError(413, "too_large", f"upload exceeds the {max_bytes}-byte limit")
        chunks.append(chunk)
    if total == 0:
        raise ApiError(400, "empty_file", "the uploaded file is empty")
    return b"".join(chunks)


def decode_upload(data: bytes, name: str, *, max_pixels: int, min_side: int) -> DecodedImage:
    if sniff_format(data) is None:
        raise ApiError(415, "not_an_image", "the upload is not an image format Winnow reads")
    try:
        return decode_image(data, name or "upload", max_pixels=max_pixels, min_side=min_side)
    except TooLargeError as exc:
        raise ApiError(413, "too_many_pixels", exc.reason) from exc
    except DecodeError as exc:
        raise ApiError(400, exc.kind, f"cannot decode the image: {exc.reason}") from exc


async def upload_image(file: UploadFile, settings: Settings) -> DecodedImage:
    """An uploaded image read within the byte limit and decoded within the API's pixel limit,
    off the event loop."""
    data = await read_upload(file, max_bytes=settings.serve.max_upload_bytes)
    return await run_in_threadpool(
        decode_upload,
        data,
        file.filename or "upload",
        max_pixels=settings.io.max_pixels,
        min_side=settings.features.thumb_size,
    )
