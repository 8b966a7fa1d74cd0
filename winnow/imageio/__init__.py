"""Image I/O: read bytes from any source under one safety policy, then decode them once.

``ImageReader`` fetches (local files, HTTP(S), Label Studio, S3) behind the path-root and SSRF
guards and the byte limit; ``decode_image`` turns bytes into RGB pixels plus the integrity
facts (format, mode, EXIF orientation, alpha, frames) and enforces the pixel limit.
"""

from winnow.imageio.decode import DecodedImage, decode_image
from winnow.imageio.sniff import sniff_format
from winnow.imageio.sources import ImageReader
from winnow.imageio.urlguard import check_url, safe_local_path

__all__ = [
    "DecodedImage",
    "ImageReader",
    "check_url",
    "decode_image",
    "safe_local_path",
    "sniff_format",
]
