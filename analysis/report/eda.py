"""The data report's numbers: composition, metadata, channel statistics, duplicates, audit.

Input is the audit's per-file table (:class:`analysis.audit.AuditResult` ``files``: one row
per file with ``uri, sha256, label, split, error_kind``, the stored metadata ``width, height,
format, mode, has_exif, exif_orientation`` and measurements ``brightness, contrast, blur,
mean_r.. std_b``, plus ``dup_group``) and its findings. Unreadable rows count in composition
and nowhere else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

NO_SPLIT = "(no split)"
NO_LABEL = "(unlabelled)"
_SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


def with_groups(files: pd.DataFrame) -> pd.DataFrame:
    """``files`` with ``label``/``split`` filled (missing -> placeholders) and ``readable``."""
    out = files.reset_index(drop=True).copy()
    out["label"] = out["label"].fillna(NO_LABEL).astype(str) if "label" in out else NO_LABEL
    out["split"] = out["split"].fillna(NO_SPLIT).astype(str) if "split" in out else NO_SPLIT
    out["readable"] = out["error_kind"].isna()
    return out


def split_order(splits: pd.Series) -> list[str]:
    return sorted(splits.unique(), key=lambda s: (_SPLIT_ORDER.get(s, 9), s))


@dataclass(frozen=True)
class Composition:
    counts: pd.DataFrame  # class x split counts, with a "total" column, largest class first
    shares: pd.DataFrame  # class x split shares (each split column sums to 1)
    imbalance: pd.Series  # per split (and "total"): largest / smallest non-empty class


def composition(files: pd.DataFrame) -> Composition:
    f = with_groups(files)
    counts = pd.crosstab(f["label"], f["split"]).reindex(columns=split_order(f["split"]))
    counts["total"] = counts.sum(axis=1)
    counts = counts.sort_values("total", ascending=False, kind="stable")
    shares = counts / counts.sum(axis=0)
    imbalance = counts.apply(lambda c: c[c > 0].max() / c[c > 0].min() if (c > 0).any() else np.nan)
    return Composition(counts, shares, imbalance)


def split_balance(files: pd.DataFrame) -> pd.Series:
    """Per split: total-variation distance between its class shares and the overall shares
    (0 = same mix as the whole set, 1 = disjoint classes)."""
    shares = composition(files).shares
    return (shares.drop(columns="total").sub(shares["total"], axis=0).abs().sum() / 2).rename(
        "tv_distance"
    )


def metadata_summary(files: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Resolution (min/median/max), formats, colour modes, EXIF presence and orientation."""
    f = with_groups(files)
    f = f[f["readable"]]
    size = pd.DataFrame(
        {"width": f["width"], "height": f["height"], "megapixels": f["width"] * f["height"] / 1e6}
    )
    resolution = size.agg(["min", "median", "max"]).T
    exif = f["has_exif"].fillna(0).astype(bool)
    orientation = f["exif_orientation"].dropna().astype(int)
    return {
        "resolution": resolution,
        "formats": f["format"].fillna("?").value_counts().rename_axis("format").to_frame("files"),
        "modes": f["mode"].fillna("?").value_counts().rename_axis("mode").to_frame("files"),
        "exif": pd.DataFrame(
            {"files": [int(exif.sum()), int((~exif).sum())]},
            index=pd.Index(["with EXIF", "without EXIF"], name="EXIF"),
        ),
        "orientation": orientation.value_counts()
        .sort_index()
        .rename_axis("EXIF orientation")
        .to_frame("files"),
    }


def channel_stats(files: pd.DataFrame) -> pd.DataFrame:
    """Per split: RGB means and standard deviations in [0, 1], pooled over the working
    thumbnails (every image weighs the same, whatever its resolution)."""
    f = with_groups(files)
    f = f[f["readable"]]
    rows = {}
    for split, part in f.groupby("split"):
        row = {}
        for c in "rgb":
            mean, std = part[f"mean_{c}"].to_numpy(float), part[f"std_{c}"].to_numpy(float)
            pooled = mean.mean()
            row[f"mean_{c}"] = pooled
            row[f"std_{c}"] = float(np.sqrt(np.mean(std**2 + mean**2) - pooled**2))
        rows[split] = row
    return pd.DataFrame.from_dict(rows, orient="index").reindex(split_order(f["split"]))


def duplicate_clusters(files: pd.DataFrame) -> list[np.ndarray]:
    """Row indices of every near-duplicate cluster with more than one file, largest first."""
    f = with_groups(files)
    if "dup_group" not in f:
        return []
    groups = [idx.to_numpy() for _, idx in f.groupby("dup_group").groups.items() if len(idx) > 1]
    return sorted(groups, key=lambda g: (-len(g), int(g[0])))


def duplicate_split_matrix(files: pd.DataFrame) -> pd.DataFrame:
    """Split x split count of near-duplicate pairs (both files in one cluster). Off-diagonal
    cells are leaks between splits."""
    f = with_groups(files)
    order = split_order(f["split"])
    matrix = pd.DataFrame(0, index=order, columns=order)
    for members in duplicate_clusters(f):
        splits = f["split"].to_numpy()[members]
        for i in range(len(splits)):
            for j in range(i + 1, len(splits)):
                a, b = splits[i], splits[j]
                matrix.loc[a, b] += 1
                if a != b:
                    matrix.loc[b, a] += 1
    return matrix


def audit_summary(issues: pd.DataFrame, n_files: int, issue_types: tuple[str, ...]) -> pd.DataFrame:
    """One row per issue type found, in ``issue_types`` order: files, share, worst finding."""
    rows = []
    for issue in issue_types:
        part = issues[issues["issue_type"] == issue]
        if len(part):
            worst = part.sort_values("score", ascending=False, kind="stable").iloc[0]
            rows.append(
                {
                    "issue": issue,
                    "files": int(part["path"].nunique()),
                    "share": part["path"].nunique() / max(n_files, 1),
                    "worst": worst["path"],
                    "details": worst["details"],
                }
            )
    return pd.DataFrame(rows, columns=["issue", "files", "share", "worst", "details"])


def dataset_fingerprint(files: pd.DataFrame) -> str:
    """A short hash of (content, label, split) over all files: ties a model report's "EDA
    done" check to the data report of exactly this data."""
    f = with_groups(files)
    keys = sorted(
        f"{s}|{lab}|{sp}"
        for s, lab, sp in zip(f["sha256"].fillna(""), f["label"], f["split"], strict=True)
    )
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
