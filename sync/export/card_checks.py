"""Known limitations the card can compute: imbalance, thin or missing classes per split,
missing licences, dominant sources, split shares off target."""

from __future__ import annotations

from urllib.parse import urlsplit

import numpy as np
import pandas as pd

IMBALANCE_RATIO = 3.0  # largest / smallest class above this is worth a warning
THIN_CLASS = 10  # fewer training images than this is hard to learn from


def limitations(
    manifest: pd.DataFrame, counts: pd.DataFrame, fractions: dict[str, float]
) -> list[str]:
    """One sentence per problem found; ``counts`` is class x split (plus ``total``)."""
    found: list[str] = []
    totals = counts["total"] if len(counts) else pd.Series(dtype=int)
    if len(totals) > 1 and totals.min() > 0 and totals.max() / totals.min() > IMBALANCE_RATIO:
        found.append(
            f"Class imbalance: {totals.idxmax()!r} has {totals.max()} images, "
            f"{totals.idxmin()!r} {totals.min()} ({totals.max() / totals.min():.1f}x)."
        )
    for split in fractions:
        if split in counts.columns and fractions[split] > 0:
            missing = [str(c) for c in counts.index[counts[split] == 0]]
            if missing:
                found.append(f"Split {split!r} has no images of: {', '.join(missing[:10])}.")
    if "train" in counts.columns:
        thin = [
            str(c) for c in counts.index[(counts["train"] > 0) & (counts["train"] < THIN_CLASS)]
        ]
        if thin:
            found.append(f"Fewer than {THIN_CLASS} training images: {', '.join(thin[:10])}.")
    n = max(len(manifest), 1)
    sources = manifest["source"].fillna("unknown").map(source_of).value_counts()
    if len(sources) and sources.iloc[0] / n > 0.8 and len(manifest) >= 20:
        found.append(
            f"{sources.iloc[0] / n:.0%} of images come from one source "
            f"({sources.index[0]}): the data may not represent other settings."
        )
    unlicensed = int(manifest["licence"].isna().sum())
    if unlicensed:
        found.append(f"{unlicensed} images have no recorded licence.")
    flagged = int(sum(len(f) > 0 for f in manifest["flags"]))
    if flagged:
        found.append(f"{flagged} exported images carry open quality findings (see `flags`).")
    return found


def source_of(uri: object) -> str:
    """Where an image came from, coarsely: a web host, an S3 bucket, or local files."""
    text = "" if uri is None or (isinstance(uri, float) and np.isnan(uri)) else str(uri)
    parts = urlsplit(text)
    if parts.scheme in ("http", "https", "s3"):
        return f"{parts.scheme}://{parts.netloc}"
    return "local files" if text else "unknown"
