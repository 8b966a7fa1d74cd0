"""A real multi-label image set that installs offline: 2 x 2 mosaics of Fashion-MNIST items.

No multi-label photo set ships as a Debian or PyPI package, so one is composed from real
photos: each 56 x 56 mosaic holds one to four Fashion-MNIST items in the cells of a 2 x 2
grid (empty cells stay black), and its label set is the classes present. The number of items
is drawn uniformly, so label cardinality varies from 1 to 4 and classes co-occur at random.
Everything is a function of ``seed`` and the installed IDX files, so every run builds the
same set. :func:`build_mosaics` writes it as PNGs plus a ``labels.csv`` for ``winnow
samples``; tests and benchmarks call :func:`fashion_mnist_mosaics` for arrays.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from winnow.datasets import load_fashion_mnist

CELL = 28
SIDE = 2 * CELL
MAX_ITEMS = 4
DEFAULT_COUNT = 600


def fashion_mnist_mosaics(
    n: int,
    *,
    split: Literal["train", "test"] = "train",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(mosaics uint8 ``(n, 56, 56)``, label matrix bool ``(n, 10)``, the 10 class names).

    The items are the first images of the split, each used once, so one source photo never
    appears in two mosaics. Row ``i`` of the label matrix marks the classes of the items in it.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, MAX_ITEMS + 1, size=n)
    images, labels, names = load_fashion_mnist(split, limit=int(counts.sum()))
    if len(images) < counts.sum():
        raise ValueError(f"the {split} split has {len(images)} images; {n} mosaics need more")
    order = rng.permutation(len(images))
    mosaics = np.zeros((n, SIDE, SIDE), dtype=np.uint8)
    matrix = np.zeros((n, len(names)), dtype=bool)
    start = 0
    for i, k in enumerate(counts):
        items = order[start : start + k]
        start += k
        for cell, item in zip(rng.choice(MAX_ITEMS, size=k, replace=False), items, strict=True):
            r, c = divmod(int(cell), 2)
            mosaics[i, r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL] = images[item]
            matrix[i, labels[item]] = True
    return mosaics, matrix, names


def label_sets(matrix: np.ndarray, names: tuple[str, ...]) -> list[list[str]]:
    """Bool ``(N, K)`` -> the class names of each row, in class order."""
    return [[names[k] for k in np.flatnonzero(row)] for row in np.asarray(matrix, dtype=bool)]


def build_mosaics(out: Path, *, n: int = DEFAULT_COUNT, seed: int = 0) -> int:
    """Write ``n`` training and ``n // 4`` test mosaics as ``out/<split>/<i>.png`` and
    ``out/labels.csv`` (columns ``image, split, labels`` with labels ``|``-joined, the export
    manifest's convention); returns the number of images written."""
    rows = []
    for split, count in (("train", n), ("test", max(1, n // 4))):
        mosaics, matrix, names = fashion_mnist_mosaics(count, split=split, seed=seed)
        (out / split).mkdir(parents=True, exist_ok=True)
        for i, (mosaic, labels) in enumerate(zip(mosaics, label_sets(matrix, names), strict=True)):
            path = Path(split) / f"mosaic-{i:05d}.png"
            Image.fromarray(mosaic).save(out / path)
            rows.append({"image": path.as_posix(), "split": split, "labels": "|".join(labels)})
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["image", "split", "labels"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
