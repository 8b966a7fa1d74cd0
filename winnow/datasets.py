"""Real labelled data sets that install offline, loaded as arrays for tests and benchmarks.

- Fashion-MNIST (Debian ``dataset-fashion-mnist``, MIT): 70,000 greyscale 28 x 28 photos of
  clothing in 10 classes, in the original IDX files. Real images with known labels are what
  label-noise benchmarks need: noise is injected on top of labels that are (nearly) right.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image

from winnow.errors import WinnowError
from winnow.models.embedder import prepare_image

if TYPE_CHECKING:
    from winnow.models.embedder import Embedder

FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_IDX_UBYTE = 0x08  # IDX type code of unsigned bytes


def load_fashion_mnist(
    split: Literal["train", "test"] = "train",
    limit: int | None = None,
    *,
    root: Path = FASHION_MNIST_ROOT,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(images uint8 ``(N, 28, 28)``, labels int64 ``(N,)``, the 10 class names).

    ``limit`` keeps the first ``limit`` examples of the split (the files are already shuffled,
    so a prefix has every class in about equal shares). Reads only the bytes it needs.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be None or an integer >= 0, got {limit!r}")
    prefix = "train" if split == "train" else "t10k"
    images_path = root / f"{prefix}-images-idx3-ubyte.gz"
    labels_path = root / f"{prefix}-labels-idx1-ubyte.gz"
    for path in (images_path, labels_path):
        if not path.is_file():
            raise WinnowError(
                f"{path} not found: install the Debian package dataset-fashion-mnist (`make apt`)"
            )
    images = _read_idx(images_path, ndim=3, limit=limit)
    labels = _read_idx(labels_path, ndim=1, limit=limit).astype(np.int64)
    if len(images) != len(labels) or images.shape[1:] != (28, 28):
        raise WinnowError(f"{root}: unexpected Fashion-MNIST shapes {images.shape}, {labels.shape}")
    return images, labels, FASHION_MNIST_CLASSES


def _read_idx(path: Path, *, ndim: int, limit: int | None) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes (big-endian header, then raw data)."""
    with gzip.open(path, "rb") as fh:
        header = fh.read(4 + 4 * ndim)
        if len(header) < 4 + 4 * ndim or header[:2] != b"\0\0" or header[2] != _IDX_UBYTE:
            raise WinnowError(f"{path} is not an IDX file of unsigned bytes")
        if header[3] != ndim:
            raise WinnowError(f"{path} has {header[3]} dimensions, expected {ndim}")
        dims = [int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
        count = dims[0] if limit is None else min(limit, dims[0])
        item = int(np.prod(dims[1:], dtype=np.int64))
        data = fh.read(count * item)
    if len(data) != count * item:
        raise WinnowError(f"{path} is truncated")
    return np.frombuffer(data, dtype=np.uint8).reshape([count, *dims[1:]]).copy()


def embed_small_images(images: np.ndarray, embedder: Embedder, *, chunk: int = 256) -> np.ndarray:
    """uint8 ``(N, H, W)`` grey or ``(N, H, W, 3)`` RGB -> float32 ``(N, embedder.dim)``.

    Each image is upscaled to the network's input by :func:`prepare_image`, ``chunk`` at a
    time so 224-px copies of a large set never sit in memory together.
    """
    if images.dtype != np.uint8 or images.ndim not in (3, 4):
        raise ValueError(f"images must be uint8 (N, H, W[, 3]), got {images.dtype} {images.shape}")
    parts = [np.zeros((0, embedder.dim), np.float32)]
    for start in range(0, len(images), chunk):
        batch = [
            prepare_image(Image.fromarray(image).convert("RGB"), embedder.input_spec)
            for image in images[start : start + chunk]
        ]
        parts.append(embedder.embed_arrays(np.stack(batch)))
    return np.concatenate(parts)
