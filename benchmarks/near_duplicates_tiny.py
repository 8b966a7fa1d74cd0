"""Near duplicates on tiny images: what the audit flags on 28-px Fashion-MNIST.

Why: the verified search (``analysis.duplicates_verify``) needs local features, and a 28-px
image has none that ORB can use, so every candidate falls back to the plain rules, pHash
radius 4 OR cosine >= 0.90. On photos those rules are tight; on a set of small, similar
items (shirts, sandals) they join look-alikes. This measures by how much, on real images.

The set: the first ``--n`` Fashion-MNIST training images (PNG, one flat folder) and
``--planted`` copies of randomly chosen ones, a quarter each: JPEG q75, brightness +15, a
1-px shift, a 1-px border crop scaled back to 28 px. Scored: the share of planted
(original, copy) pairs the audit puts in one group, per transform, and how many originals
the audit puts in a group with another original (Fashion-MNIST has few true duplicates, so
these are mostly look-alikes: a lower bound on false flags is not known). The same two
numbers follow for each plain rule alone, at a few thresholds.

    python benchmarks/near_duplicates_tiny.py [--n 3000] [--planted 400] [--record]
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _common import machine_line, record_result
from _winnow_pairs import WinnowPairs
from near_duplicates import run_winnow
from PIL import Image

from winnow.datasets import load_fashion_mnist

TRANSFORMS = ("jpeg75", "bright15", "shift1", "crop1")
RULES = [(0, None), (2, None), (4, None), (6, None), (None, 0.90), (None, 0.95), (None, 0.97)]
RULES += [(4, 0.90)]  # both must hold: see ``_both``


def transform(image: np.ndarray, kind: str) -> np.ndarray:
    """One planted copy of a 28 x 28 greyscale image."""
    if kind == "jpeg75":
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=75)
        return np.asarray(Image.open(buffer).convert("L"))
    if kind == "bright15":
        return np.clip(image.astype(np.int16) + 15, 0, 255).astype(np.uint8)
    if kind == "shift1":
        return np.roll(image, 1, axis=1)
    if kind == "crop1":
        crop = Image.fromarray(image[1:-1, 1:-1])
        return np.asarray(crop.resize(image.shape[::-1], Image.Resampling.BILINEAR))
    raise ValueError(kind)


def build(folder: Path, n: int, planted: int, seed: int = 0) -> list[tuple[str, str, str]]:
    """Write the set; return the planted (original name, copy name, transform) triples."""
    folder.mkdir(parents=True, exist_ok=True)
    images, _, _ = load_fashion_mnist("train", limit=n)
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"o{i:05d}.png")
    rng = np.random.default_rng(seed)
    triples = []
    for j, i in enumerate(rng.choice(n, planted, replace=False)):
        kind = TRANSFORMS[j % len(TRANSFORMS)]
        name = f"p{j:04d}-{kind}.png"
        Image.fromarray(transform(images[i], kind)).save(folder / name)
        triples.append((f"o{i:05d}.png", name, kind))
    return triples


def scores(pairs: set[tuple[str, str]], triples: list[tuple[str, str, str]]) -> str:
    """Recall of the planted pairs per transform, and originals joined to another original."""
    recall = {
        kind: np.mean([tuple(sorted((a, b))) in pairs for a, b, k in triples if k == kind])
        for kind in TRANSFORMS
    }
    originals = {x for a, b in pairs if a[0] == "o" and b[0] == "o" for x in (a, b)}
    cells = " ".join(f"{recall[k]:>8.2f}" for k in TRANSFORMS)
    return f"{cells}  {len(originals):8d}"


def _both(wp: WinnowPairs, radius: int, cosine: float) -> set[tuple[str, str]]:
    """Pairs that pass both rules: the pHash radius and the cosine threshold."""
    by_hash = wp.as_pairs(radius, None)
    return by_hash & wp.as_pairs(None, cosine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="Fashion-MNIST originals")
    parser.add_argument("--planted", type=int, default=400, help="planted copies")
    parser.add_argument("--record", action="store_true", help="write to RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="winnow-tinydup-") as tmp:
        folder = Path(tmp) / "images"
        triples = build(folder, args.n, args.planted)
        files, vectors, seconds = run_winnow(folder, Path(tmp) / "store")
    groups = files.groupby("dup_group")["name"]
    audit = {(a, b) for _, g in groups for a in g for b in g if a < b}
    wp = WinnowPairs(files, vectors)
    head = " ".join(f"{k:>8s}" for k in TRANSFORMS)
    lines = [
        machine_line() + f"; load average {os.getloadavg()[0]:.1f} at the end",
        f"data: {args.n} Fashion-MNIST originals (28 px) + {args.planted} planted copies; "
        f"features and audit {seconds:.0f} s",
        f"  {'recall of planted copies:':36s}  {head}  originals joined to an original",
        f"  {'audit default (its groups)':36s}  {scores(audit, triples)}",
    ]
    for radius, cosine in RULES:
        if radius is not None and cosine is not None:
            pairs, name = _both(wp, radius, cosine), f"pHash r{radius} AND cosine {cosine}"
        else:
            pairs = wp.as_pairs(radius, cosine)
            name = f"pHash r{radius}" if radius is not None else f"cosine {cosine}"
        lines.append(f"  {name:36s}  {scores(pairs, triples)}")
    flagged = pd.Series(files["dup_group"]).map(files["dup_group"].value_counts()).gt(1).sum()
    lines.append(f"files in a duplicate group (audit): {flagged} of {len(files)}")
    print("\n".join(lines))
    if args.record:
        record_result("Near duplicates on tiny images (Fashion-MNIST, 28 px)", lines)


if __name__ == "__main__":
    main()
