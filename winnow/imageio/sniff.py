"""Image format from magic bytes, without decoding.

Used to tell a wrong file extension from a broken file and to name the format of files that
cannot be decoded at all. Names match Pillow's ``Image.format`` so the two can be compared.
"""

from __future__ import annotations

_FTYP_BRANDS = {
    b"avif": "AVIF",
    b"avis": "AVIF",
    b"heic": "HEIF",
    b"heix": "HEIF",
    b"hevc": "HEIF",
    b"heim": "HEIF",
    b"heis": "HEIF",
    b"mif1": "HEIF",
    b"msf1": "HEIF",
}
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}  # the DIB header variants
_PREFIXES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG2000"),
    (b"\xff\x4f\xff\x51", "JPEG2000"),  # raw codestream
    (b"qoif", "QOI"),
    (b"8BPS", "PSD"),
)


def sniff_format(data: bytes) -> str | None:
    """The format named by the first bytes of ``data`` (Pillow's name), or None."""
    head = bytes(data[:32])
    for prefix, name in _PREFIXES:
        if head.startswith(prefix):
            return name
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12])
    if len(head) >= 3 and head[:1] == b"P" and head[1] in b"1234567" and head[2] in b" \t\r\n":
        return "PPM"  # Pillow names every Netpbm variant PPM
    return None
