"""The near-duplicate test set: real photos and transformed copies of each, with ground truth.

Every photo from ``winnow.samples.real_photos()`` (43 with the Debian opencv-doc samples; none
left out) is written once as a lossless PNG, and 13 variants of it beside it:

- ``jpeg30``, ``jpeg50``, ``jpeg90``: re-encoded as JPEG at that quality;
- ``resize50``, ``resize200``: scaled to 50% / 200% per side (bicubic);
- ``crop10``, ``crop20``: 10% / 20% of the width and of the height cut away (so 81% / 64% of
  the area is kept), the window placed at a seeded random offset;
- ``flip``: mirrored left-right;
- ``rotate3``: turned 3 degrees about the centre, same canvas, black corners;
- ``bright+20``, ``bright-20``: brightness times 1.2 / 0.8 (``ImageEnhance.Brightness``);
- ``watermark``: a half-transparent white text line with a dark outline across the lower
  middle, its height a tenth of the image's width (``ImageDraw``, Pillow's bundled font).

Ground truth for a pair of files: the same source photo is a duplicate; sources in one
``RELATED`` family (stereo pairs, the same scene from another viewpoint or exposure, an edited
copy) are ignored in scoring, being arguably duplicates either way; anything else is not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

from winnow.samples import real_photos

ORIGINAL = "original"
MILD = ("jpeg30", "jpeg50", "jpeg90", "resize50", "resize200", "crop10", "bright+20", "bright-20")
HARD = ("crop20", "flip", "rotate3", "watermark")

# Photo families whose members are different files of one scene or object: pairs across
# members are neither counted right nor wrong. (The opencv chessboards left01..left14 and the
# right half of the motorcycle stereo pair are not among the photos, being filtered out or
# absent, so they need no entry.)
RELATED = (
    {"aloeL", "aloeR"},  # stereo pair
    {"left", "right"},  # stereo pair (books on a floor)
    {"Blender_Suzanne1", "Blender_Suzanne2"},  # one render, two viewpoints
    {"graf1", "graf3"},  # one graffiti wall, two viewpoints
    {"leuvenA", "leuvenB"},  # one street, two exposures
    {"ela_original", "ela_modified"},  # a photo and its edited copy (an added logo)
    {"rubberwhale1", "rubberwhale2"},  # consecutive video frames (optical flow)
    {"aero1", "aero3"},  # one aerial scene, two viewpoints
    {"text_defocus", "text_motion"},  # one printed page, two blurs
)


def _crop(fraction: float, rng: np.random.Generator) -> Callable[[Image.Image], Image.Image]:
    def crop(img: Image.Image) -> Image.Image:
        w, h = round(img.width * (1 - fraction)), round(img.height * (1 - fraction))
        x = int(rng.integers(0, img.width - w + 1))
        y = int(rng.integers(0, img.height - h + 1))
        return img.crop((x, y, x + w, y + h))

    return crop


def _resize(scale: float) -> Callable[[Image.Image], Image.Image]:
    def resize(img: Image.Image) -> Image.Image:
        size = (round(img.width * scale), round(img.height * scale))
        return img.resize(size, Image.Resampling.BICUBIC)

    return resize


def _bright(factor: float) -> Callable[[Image.Image], Image.Image]:
    return lambda img: ImageEnhance.Brightness(img).enhance(factor)


def watermark(img: Image.Image, text: str = "© SAMPLE PHOTO") -> Image.Image:
    """A stock-photo style visible watermark across the lower middle of ``img``."""
    font = ImageFont.load_default(size=max(10, img.width // 10))
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x, y = (img.width - (right - left)) // 2, int(img.height * 0.62)
    draw.text(
        (x, y),
        text,
        font=font,
        fill=(255, 255, 255, 140),
        stroke_width=2,
        stroke_fill=(0, 0, 0, 140),
    )
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


def transforms(rng: np.random.Generator) -> dict[str, Callable[[Image.Image], Image.Image]]:
    """Variant name -> function; JPEG variants are the identity here (quality set on save)."""
    keep = lambda img: img  # noqa: E731
    return {
        "jpeg30": keep,
        "jpeg50": keep,
        "jpeg90": keep,
        "resize50": _resize(0.5),
        "resize200": _resize(2.0),
        "crop10": _crop(0.10, rng),
        "crop20": _crop(0.20, rng),
        "flip": lambda img: img.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "rotate3": lambda img: img.rotate(3, resample=Image.Resampling.BICUBIC),
        "bright+20": _bright(1.2),
        "bright-20": _bright(0.8),
        "watermark": watermark,
    }


def build(folder: Path, *, seed: int = 0) -> dict[str, tuple[str, str]]:
    """Write originals and variants into ``folder``; returns file name -> (source, variant)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    meta: dict[str, tuple[str, str]] = {}
    for source, photo in real_photos():
        name = f"{source}__{ORIGINAL}.png"
        photo.save(folder / name, compress_level=1)
        meta[name] = (source, ORIGINAL)
        for variant, fn in transforms(rng).items():
            out = fn(photo)
            if variant.startswith("jpeg"):
                name = f"{source}__{variant}.jpg"
                out.save(folder / name, quality=int(variant[4:]))
            else:
                name = f"{source}__{variant}.png"
                out.save(folder / name, compress_level=1)
            meta[name] = (source, variant)
    return meta


def truth(a: str, b: str, meta: dict[str, tuple[str, str]]) -> bool | None:
    """True: same source photo; None: related sources (not scored); False: different."""
    sa, sb = meta[a][0], meta[b][0]
    if sa == sb:
        return True
    if any(sa in family and sb in family for family in RELATED):
        return None
    return False
