"""Real sample data sets built from images that install offline (Debian and PyPI packages).

- ``tuxpaint``: Debian ``tuxpaint-stamps-default`` photo cut-outs (GPL-2), one folder per
  top-level stamp category, as a ``class/`` data set.
- ``bench``: at least 1,000 real-content JPEGs of about 0.8 Mpx for benchmarks: random crops,
  flips and rescales of the real photos bundled with scikit-image and scikit-learn, plus the
  sample photos of Debian ``opencv-doc`` when installed. Crops of one photo overlap, so this
  set is for throughput and agreement, not for judging duplicate precision.
- ``demo``: the ``tuxpaint`` animals as bird/fish/insect/mammal, with the edge cases mixed
  into one class folder.
- ``edge-cases``: the bad files a pipeline must survive (corrupt, truncated, zero-byte, a
  decompression bomb, text named .jpg, CMYK, 16-bit, animated GIF).
"""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from winnow.errors import WinnowError

TUXPAINT_ROOT = Path("/usr/share/tuxpaint/stamps")
OPENCV_SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")
# opencv-doc samples that are drawings, logos, text or test patterns, not photos
_NOT_PHOTOS = {
    "gradient",
    "chessboard",
    "detect_blob",
    "digits",
    "ellipses",
    "imageTextN",
    "imageTextR",
    "LinuxLogo",
    "WindowsLogo",
    "opencv-logo",
    "opencv-logo-white",
    "mask",
    "ml",
    "notes",
    "pic1",
    "pic2",
    "pic3",
    "pic4",
    "pic5",
    "pic6",
    "templ",
    "tmpl",
    "pca_test1",
    "sudoku",
    "aloeGT",
    "starry_night",
    "HappyFish",
    "cards",
}
_MIN_CLASS_SIZE = 10


def build_tuxpaint(out: Path, *, root: Path = TUXPAINT_ROOT, flat: bool = False) -> int:
    """Copy the stamp PNGs into ``out/<category>/`` (or straight into ``out`` with ``flat``);
    categories under 10 images are left out."""
    if not root.is_dir():
        raise WinnowError(f"{root} not found: install the Debian package tuxpaint-stamps-default")
    by_class: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*.png")):
        if "_mirror" in path.stem or "_thumb" in path.stem:
            continue
        by_class.setdefault("" if flat else path.relative_to(root).parts[0], []).append(path)
    count = 0
    for label, paths in by_class.items():
        if len(paths) < _MIN_CLASS_SIZE:
            continue
        (out / label).mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copy2(path, out / label / "_".join(path.relative_to(root / label).parts))
            count += 1
    return count


DEMO_CLASSES = {"birds": "bird", "fish": "fish", "insects": "insect", "mammals": "mammal"}


def build_demo(out: Path, *, root: Path = TUXPAINT_ROOT) -> int:
    """Tux Paint's animal photos in four classes that ImageNet covers (so the offline
    zero-shot stand-in pre-annotates them meaningfully), with the edge cases dropped into one
    class, as happens in practice."""
    count = 0
    for folder, label in DEMO_CLASSES.items():
        count += build_tuxpaint(out / label, root=root / "animals" / folder, flat=True)
    return count + len(build_edge_cases(out / "mammal"))


def real_photos() -> Iterator[tuple[str, Image.Image]]:
    """The real colour photos that ship offline, as RGB images."""
    import skimage
    import sklearn.datasets

    skimage_dir = Path(skimage.__file__).parent / "data"
    names = [
        "astronaut.png",
        "chelsea.png",
        "coffee.png",
        "rocket.jpg",
        "retina.jpg",
        "hubble_deep_field.jpg",
        "motorcycle_left.png",
        "ihc.png",
    ]
    paths = [skimage_dir / n for n in names]
    paths += sorted(Path(sklearn.datasets.__file__).parent.glob("images/*.jpg"))
    if OPENCV_SAMPLES.is_dir():
        paths += sorted(
            p
            for p in OPENCV_SAMPLES.iterdir()
            if p.suffix.lower() in {".jpg", ".png"} and p.stem not in _NOT_PHOTOS
        )
    for path in paths:
        with Image.open(path) as img:
            if img.mode in ("RGB", "RGBA", "P") and min(img.size) >= 200:
                yield path.stem, img.convert("RGB")


def build_bench(out: Path, *, count: int = 1000, megapixels: float = 0.8, seed: int = 0) -> int:
    """Write ``count`` JPEGs of about ``megapixels`` each, cropped from the real photos."""
    rng = np.random.default_rng(seed)
    photos = list(real_photos())
    if not photos:
        raise WinnowError("no sample photos found: is scikit-image installed?")
    out.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name, photo = photos[i % len(photos)]
        area = rng.uniform(0.4, 1.0)
        w, h = (max(32, int(s * np.sqrt(area))) for s in photo.size)
        x, y = int(rng.integers(0, photo.width - w + 1)), int(rng.integers(0, photo.height - h + 1))
        crop = photo.crop((x, y, x + w, y + h))
        if rng.random() < 0.5:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        scale = np.sqrt(megapixels * 1e6 * rng.uniform(0.7, 1.3) / (w * h))
        crop = crop.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC)
        crop.save(out / f"{i:05d}_{name}.jpg", quality=int(rng.integers(80, 96)))
    return count


def build_edge_cases(out: Path) -> dict[str, str]:
    """Write one file per failure mode a pipeline must survive; returns name -> expectation."""
    import skimage.data

    out.mkdir(parents=True, exist_ok=True)
    photo = Image.fromarray(skimage.data.coffee())
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=90)
    jpeg = buf.getvalue()
    (out / "ok.jpg").write_bytes(jpeg)
    (out / "zero.jpg").write_bytes(b"")
    (out / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    middle = len(jpeg) // 3
    (out / "corrupt.jpg").write_bytes(jpeg[:middle] + b"\x00\xff" * 512 + jpeg[middle + 1024 :])
    (out / "text.jpg").write_bytes(b"this is not an image, only text named .jpg\n")
    photo.convert("CMYK").save(out / "cmyk.jpg", "JPEG")
    gray16 = (np.asarray(photo.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(gray16).save(out / "gray16.png")
    frames = [photo.resize((120, 80)), photo.resize((120, 80)).rotate(180)]
    frames[0].save(out / "animated.gif", save_all=True, append_images=frames[1:], duration=100)
    (out / "bomb.png").write_bytes(png_bomb(20_000, 20_000))
    return {
        "ok.jpg": "ok",
        "zero.jpg": "zero_byte",
        "truncated.jpg": "truncated",
        "corrupt.jpg": "corrupt or truncated",
        "text.jpg": "not_an_image",
        "cmyk.jpg": "ok",
        "gray16.png": "ok",
        "animated.gif": "ok (first frame)",
        "bomb.png": "too_large",
    }


def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width x height`` zeros: tiny on disk, huge when decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
