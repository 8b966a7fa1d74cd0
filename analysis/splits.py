"""Train/val/test splits: stratified by class, never cutting a group, stable as data grows.

Items are assigned whole groups at a time (a near-duplicate cluster, or every image of one
patient/session), so no group straddles two splits. Groups are placed greedily, largest
first: each goes to the split where it most reduces the squared gap between the split's
per-class counts and their targets (fraction x class total, each class weighted by its total
so small classes count as much as big ones). That beats scikit-learn's StratifiedGroupKFold
on fraction error for uneven fractions such as 80/10/10 (benchmarks/export.py measures it)
and, unlike it, can start from an existing assignment: items that already have a split keep
it and new groups fill toward the targets. Time-aware mode instead fills the splits in order
(train first) with groups sorted by time, so the test split holds the newest data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.duplicates import cluster_pairs
from analysis.validation import check_float, check_int

NO_LABEL = "\x00unlabelled"  # class key of items without a label


def assign_splits(
    labels: Sequence[object],
    *,
    fractions: Mapping[str, float],
    groups: Sequence[object] | None = None,
    existing: Sequence[object] | None = None,
    times: Sequence[object] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Split name per item, object array (N,).

    ``labels`` (N,): a class name, a list of names (multi-label), or None. ``fractions``:
    split name -> share, summing to 1; its order is the time order of ``times`` mode.
    ``groups`` (N,): group keys, None/NaN meaning a group of its own. ``existing`` (N,): a
    split already given (kept as is, and its group follows it) or None. ``times`` (N,):
    sortable values; when given, splits are time-ordered instead of stratified. ``seed``
    breaks ties between equally sized groups reproducibly.
    """
    names, shares = _check_fractions(fractions)
    n = len(labels)
    seed = check_int(seed, "seed", 0)
    group_ids = _group_ids(groups, n)
    label_lists = [_as_list(v) for v in labels]
    fixed = _fixed_group_splits(group_ids, _optional(existing, n, "existing"))
    out = np.empty(n, dtype=object)
    if times is not None:
        placed = _by_time(group_ids, fixed, _optional(times, n, "times"), names, shares)
    else:
        placed = _stratified(group_ids, label_lists, fixed, names, shares, seed)
    for g, split in enumerate(placed):
        out[group_ids == g] = split
    if existing is not None:  # an existing split always wins, even inside a mixed group
        given = np.asarray(_optional(existing, n, "existing"), dtype=object)
        keep = pd.notna(given)
        out[keep] = given[keep]
    return out


def combine_groups(*keys: Sequence[object]) -> np.ndarray:
    """One int group id per item (N,) joining items that share any key in any of ``keys``
    (for example near-duplicate clusters and a patient field). None/NaN keys join nothing."""
    if not keys:
        raise ValueError("combine_groups needs at least one key sequence")
    n = len(keys[0])
    pairs = [np.zeros((0, 2), np.int64)]
    for key in keys:
        if len(key) != n:
            raise ValueError(f"group keys must all have length {n}, got {len(key)}")
        codes, _ = pd.factorize(pd.Series(list(key), dtype=object), use_na_sentinel=True)
        known = np.flatnonzero(codes >= 0)
        first = pd.Series(known).groupby(codes[known]).transform("first").to_numpy()
        pairs.append(np.stack([first, known], axis=1)[first != known].astype(np.int64))
    return cluster_pairs(n, np.concatenate(pairs))


def split_report(
    splits: Sequence[object], labels: Sequence[object], fractions: Mapping[str, float]
) -> dict[str, float]:
    """How good a split is: ``fraction_error`` (max |share - target| over splits) and
    ``class_error`` (max over splits and classes of |class share in split - overall share|)."""
    frame = pd.DataFrame({"split": list(splits), "label": [_as_list(v) for v in labels]})
    share = frame["split"].value_counts(normalize=True)
    fraction_error = max(abs(share.get(s, 0.0) - f) for s, f in fractions.items())
    exploded = frame.explode("label").fillna({"label": NO_LABEL})
    overall = exploded["label"].value_counts(normalize=True)
    class_error = 0.0
    for _, part in exploded.groupby("split"):
        within = part["label"].value_counts(normalize=True).reindex(overall.index, fill_value=0)
        class_error = max(class_error, float((within - overall).abs().max()))
    return {"fraction_error": float(fraction_error), "class_error": class_error}


def _check_fractions(fractions: Mapping[str, float]) -> tuple[list[str], np.ndarray]:
    if not fractions:
        raise ValueError("fractions must name at least one split")
    names = list(fractions)
    shares = np.array([check_float(fractions[s], f"fractions[{s!r}]", 0.0, 1.0) for s in names])
    if abs(shares.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {shares.sum():.6f} from {dict(fractions)}")
    return names, shares


def _optional(values: Sequence[object] | None, n: int, name: str) -> list[object]:
    if values is None:
        return [None] * n
    values = list(values)
    if len(values) != n:
        raise ValueError(f"{name} must have one entry per item ({n}), got {len(values)}")
    return values


def _as_list(value: object) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]  # type: ignore[union-attr]


def _group_ids(groups: Sequence[object] | None, n: int) -> np.ndarray:
    """Dense ids 0..G-1 numbered by first appearance; a missing key is a group of its own."""
    keys = _optional(groups, n, "groups")
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object), use_na_sentinel=True)
    codes = codes.astype(np.int64)
    missing = np.flatnonzero(codes < 0)
    codes[missing] = len(uniques) + np.arange(len(missing))
    dense, _ = pd.factorize(codes)
    return dense.astype(np.int64)


def _fixed_group_splits(group_ids: np.ndarray, existing: list[object]) -> dict[int, str]:
    """Group -> the split most of its already-assigned members have (ties: first seen)."""
    frame = pd.DataFrame({"g": group_ids, "s": pd.Series(existing, dtype=object)}).dropna()
    if frame.empty:
        return {}
    counts = frame.groupby(["g", "s"], sort=False).size().reset_index(name="n")
    best = counts.sort_values("n", ascending=False, kind="stable").drop_duplicates("g")
    return dict(zip(best["g"].astype(int), best["s"].astype(str), strict=True))


def _stratified(
    group_ids: np.ndarray,
    label_lists: list[list[str]],
    fixed: dict[int, str],
    names: list[str],
    shares: np.ndarray,
    seed: int,
) -> list[str]:
    n_groups = int(group_ids.max(initial=-1)) + 1
    classes, members = _group_classes(group_ids, label_lists, n_groups)
    sizes = np.bincount(group_ids, minlength=n_groups).astype(float)
    class_total = np.zeros(len(classes))
    for counts in members:
        for k, c in counts.items():
            class_total[k] += c
    target = shares[:, None] * class_total[None, :]  # (S, K)
    size_target = shares * len(group_ids)
    have = np.zeros_like(target)
    size_have = np.zeros(len(names))
    placed: list[str] = [""] * n_groups
    index = {s: i for i, s in enumerate(names)}
    for g, split in fixed.items():
        placed[g] = split
        if split in index:
            _add(have, size_have, index[split], members[g], sizes[g])
    order = _largest_first(sizes, fixed, seed)
    weight = 1.0 / np.maximum(class_total, 1.0)
    for g in order:
        ks = np.fromiter(members[g].keys(), np.int64)
        cs = np.fromiter(members[g].values(), float)
        gap = have[:, ks] - target[:, ks]  # (S, k)
        cost = (cs * (2 * gap + cs) * weight[ks]).sum(axis=1)
        cost += sizes[g] * (2 * (size_have - size_target) + sizes[g]) / len(group_ids)
        best = int(np.argmin(cost))  # ties go to the first split in ``fractions``
        placed[g] = names[best]
        _add(have, size_have, best, members[g], sizes[g])
    return placed


def _group_classes(
    group_ids: np.ndarray, label_lists: list[list[str]], n_groups: int
) -> tuple[dict[str, int], list[dict[int, float]]]:
    classes: dict[str, int] = {}
    members: list[dict[int, float]] = [{} for _ in range(n_groups)]
    for g, labels in zip(group_ids, label_lists, strict=True):
        for label in labels or [NO_LABEL]:
            k = classes.setdefault(label, len(classes))
            members[g][k] = members[g].get(k, 0.0) + 1.0
    return classes, members


def _add(
    have: np.ndarray, size_have: np.ndarray, s: int, counts: dict[int, float], size: float
) -> None:
    for k, c in counts.items():
        have[s, k] += c
    size_have[s] += size


def _largest_first(sizes: np.ndarray, fixed: dict[int, str], seed: int) -> np.ndarray:
    free = np.array([g for g in range(len(sizes)) if g not in fixed], dtype=np.int64)
    shuffled = np.random.default_rng(seed).permutation(free)
    return shuffled[np.argsort(-sizes[shuffled], kind="stable")]


def _by_time(
    group_ids: np.ndarray,
    fixed: dict[int, str],
    times: list[object],
    names: list[str],
    shares: np.ndarray,
) -> list[str]:
    """Fill the splits in ``fractions`` order with groups sorted by their earliest time."""
    n_groups = int(group_ids.max(initial=-1)) + 1
    first = _time_values(times).groupby(group_ids).min()
    sizes = np.bincount(group_ids, minlength=n_groups)
    filled = np.zeros(len(names))
    for g, split in fixed.items():
        if split in names:
            filled[names.index(split)] += sizes[g]
    bounds = shares * len(group_ids)
    placed = [fixed.get(g, "") for g in range(n_groups)]
    free = [g for g in range(n_groups) if g not in fixed]
    when = first.reindex(range(n_groups)).fillna(np.inf).to_numpy()  # no time: last
    order = sorted(free, key=lambda g: (when[g], g))
    current = 0
    for g in order:
        while current < len(names) - 1 and filled[current] + sizes[g] / 2 > bounds[current]:
            current += 1
        placed[g] = names[current]
        filled[current] += sizes[g]
    return placed


def _time_values(times: list[object]) -> pd.Series:
    """Numbers as they are; anything else parsed as dates (ISO strings), in seconds."""
    series = pd.Series(times, dtype=object)
    try:
        return pd.to_numeric(series).astype(float)
    except (TypeError, ValueError):
        stamps = pd.to_datetime(series, errors="coerce", utc=True, format="mixed")
        return pd.Series(stamps.astype("int64") / 1e9, dtype=float).where(stamps.notna())


def split_distributions(
    splits: Sequence[object],
    *,
    width: Sequence[float],
    height: Sequence[float],
    quality: Mapping[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Per split: image count, aspect ratio (width/height) p10/median/p90, median pixels and
    the median of each ``quality`` metric (for example blur, brightness). One row per split,
    so a reader can see at a glance whether one split got the sharp or the wide images."""
    w, h = np.asarray(width, float), np.asarray(height, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        aspect = np.where(h > 0, w / h, np.nan)  # unknown sizes stay out of the quantiles
    frame = pd.DataFrame({"split": list(splits), "aspect": aspect, "megapixels": w * h / 1e6})
    for name, values in (quality or {}).items():
        frame[name] = np.asarray(values, float)
    grouped = frame.groupby("split", sort=False)
    out = pd.DataFrame({"images": grouped.size()})
    for q, name in ((0.1, "aspect_p10"), (0.5, "aspect_median"), (0.9, "aspect_p90")):
        out[name] = grouped["aspect"].quantile(q)
    out["megapixels_median"] = grouped["megapixels"].median()
    for name in quality or {}:
        out[f"{name}_median"] = grouped[name].median()
    return out.round(4)


def label_prevalence_deviation(splits: Sequence[object], labels: Sequence[object]) -> pd.DataFrame:
    """Per split (rows) and class (columns): the class's prevalence in the split (share of
    the split's items carrying it) minus its overall prevalence. The multi-label measure of
    stratification: a perfect split has zeros; ``.abs().max().max()`` is the worst gap."""
    lists = [_as_list(v) for v in labels]
    classes = sorted({c for ls in lists for c in ls})
    index = {c: k for k, c in enumerate(classes)}
    member = np.zeros((len(lists), len(classes)), dtype=float)
    for i, ls in enumerate(lists):
        member[i, [index[c] for c in ls]] = 1.0
    frame = pd.DataFrame(member, columns=classes)
    frame["split"] = list(splits)
    return frame.groupby("split").mean() - member.mean(axis=0)
