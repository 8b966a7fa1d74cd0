"""Which images the data report shows: a random grid per class and the extremes.

Returns row indices into the per-file table (with a caption each); the adapter loads only
these thumbnails, so a report over 100k files decodes a few hundred images.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.report.eda import NO_SPLIT, with_groups

Pick = tuple[int, str]  # (row index, caption)


def class_samples(
    files: pd.DataFrame, *, per_class: int = 8, max_classes: int = 40, seed: int = 0
) -> dict[str, list[Pick]]:
    """Up to ``per_class`` random readable files of each class (largest classes first)."""
    f = with_groups(files)
    f = f[f["readable"]]
    rng = np.random.default_rng(seed)
    out: dict[str, list[Pick]] = {}
    for label in f["label"].value_counts().index[:max_classes]:
        rows = f.index[f["label"] == label].to_numpy()
        chosen = np.sort(rng.choice(rows, size=min(per_class, len(rows)), replace=False))
        out[label] = [
            (int(i), "" if f.at[i, "split"] == NO_SPLIT else f.at[i, "split"]) for i in chosen
        ]
    return out


def extremes(files: pd.DataFrame, issues: pd.DataFrame, *, k: int = 6) -> dict[str, list[Pick]]:
    """The smallest and largest images, the darkest, the brightest, the blurriest, and the
    strongest embedding outliers."""
    f = with_groups(files)
    f = f[f["readable"]]
    pixels = f["width"] * f["height"]

    def pick(values: pd.Series, fmt: str, *, ascending: bool) -> list[Pick]:
        order = values.sort_values(ascending=ascending, kind="stable").index[:k]
        return [(int(i), fmt.format(values[i], f.at[i, "width"], f.at[i, "height"])) for i in order]

    out: dict[str, list[Pick]] = {}
    if pixels.nunique() > 1:  # all one size: nothing is extreme
        out["smallest"] = pick(pixels, "{1:.0f}x{2:.0f}", ascending=True)
        out["largest"] = pick(pixels, "{1:.0f}x{2:.0f}", ascending=False)
    out |= {
        "darkest": pick(f["brightness"], "brightness {0:.2f}", ascending=True),
        "brightest": pick(f["brightness"], "brightness {0:.2f}", ascending=False),
        "blurriest": pick(f["blur"], "Laplacian var {0:.0f}", ascending=True),
    }
    row_of = pd.Series(f.index, index=f["uri"])
    flagged = issues[(issues["issue_type"] == "outlier") & issues["path"].isin(row_of.index)]
    out["embedding outliers"] = [
        (int(row_of[p]), f"score {s:.2f}")
        for p, s in zip(flagged["path"][:k], flagged["score"][:k], strict=True)
    ]
    return out


def cluster_members(
    files: pd.DataFrame, clusters: list[np.ndarray], *, n_clusters: int = 6, per_cluster: int = 8
) -> list[list[Pick]]:
    """Thumbnails of the largest duplicate clusters, captioned with split and label."""
    f = with_groups(files)

    def caption(i: int) -> str:
        split = f.at[i, "split"]
        return f.at[i, "label"] if split == NO_SPLIT else f"{split} / {f.at[i, 'label']}"

    return [
        [(int(i), caption(i)) for i in members[:per_cluster]] for members in clusters[:n_clusters]
    ]
