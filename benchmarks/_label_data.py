"""Real labelled embeddings for the label-noise benchmark, cached under build/cache/.

Fashion-MNIST is embedded in chunks of 1,000 images, so a larger ``n`` only embeds what is
missing; Tux Paint stamps (one class per top-level category of 10+ stamps) in one file.
Cache files are keyed by the embedder's ``model_id``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from winnow.datasets import embed_small_images, load_fashion_mnist
from winnow.samples import TUXPAINT_ROOT

CACHE = Path(__file__).resolve().parents[1] / "build" / "cache"
CHUNK = 1000
MIN_CLASS = 10


def _folder(kind: str, embedder) -> Path:
    folder = CACHE / kind / re.sub(r"[^A-Za-z0-9_.-]+", "_", embedder.model_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fashion_mnist(n: int, embedder) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(embeddings (n, D), labels (n,), class names) of the first ``n`` training images."""
    images, labels, names = load_fashion_mnist("train", limit=n)
    folder = _folder("fashion-mnist", embedder)
    parts = []
    for start in range(0, n, CHUNK):
        path = folder / f"train-{start:06d}.npy"
        want = min(CHUNK, n - start)
        if not (path.exists() and len(cached := np.load(path)) >= want):
            full = load_fashion_mnist("train", limit=start + CHUNK)[0][start:]
            cached = embed_small_images(full, embedder)
            np.save(path, cached)
        parts.append(cached[:want])
    return np.concatenate(parts), labels, names


def tuxpaint(embedder) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(embeddings, labels, class names) of the Tux Paint stamps, classes of 10+ stamps."""
    by_class: dict[str, list[Path]] = {}
    for path in sorted(TUXPAINT_ROOT.rglob("*.png")):
        if "_mirror" not in path.stem and "_thumb" not in path.stem:
            by_class.setdefault(path.relative_to(TUXPAINT_ROOT).parts[0], []).append(path)
    names = tuple(sorted(c for c, paths in by_class.items() if len(paths) >= MIN_CLASS))
    paths = [p for c in names for p in by_class[c]]
    labels = np.array([names.index(p.relative_to(TUXPAINT_ROOT).parts[0]) for p in paths])
    cache = _folder("tuxpaint", embedder) / f"stamps-{len(paths)}.npy"
    if cache.exists():
        return np.load(cache), labels, names
    vectors = []
    for start in range(0, len(paths), 64):
        images = []
        for path in paths[start : start + 64]:
            with Image.open(path) as img:
                img.load()
                images.append(img.copy())
        vectors.append(embedder.embed_images(images))
    out = np.concatenate(vectors)
    np.save(cache, out)
    return out, labels, names
