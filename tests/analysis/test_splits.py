"""Splits: groups never straddle, fractions hold, same seed same split, growth keeps splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.splits import assign_splits, combine_groups, split_distributions, split_report

FRACTIONS = {"train": 0.8, "val": 0.1, "test": 0.1}


@st.composite
def datasets(draw: st.DrawFn) -> tuple[list[str], np.ndarray]:
    n = draw(st.integers(1, 300))
    n_classes = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    labels = [f"c{k}" for k in rng.integers(0, n_classes, n)]
    max_group = draw(st.integers(1, 6))
    groups = np.repeat(np.arange(n), rng.integers(1, max_group + 1, n))[:n]
    return labels, groups


def _max_group(groups: np.ndarray) -> int:
    return int(np.bincount(groups).max())


@settings(max_examples=60, deadline=None)
@given(datasets(), st.integers(0, 1000))
def test_groups_never_straddle_and_fractions_hold(data, seed) -> None:
    labels, groups = data
    splits = assign_splits(labels, fractions=FRACTIONS, groups=groups, seed=seed)
    per_group = pd.Series(splits).groupby(groups).nunique()
    assert (per_group == 1).all()
    counts = pd.Series(splits).value_counts()
    for name, share in FRACTIONS.items():
        # greedy placement of whole groups: off by at most one group from the target
        assert abs(counts.get(name, 0) - share * len(labels)) <= _max_group(groups) + 1


@settings(max_examples=30, deadline=None)
@given(datasets(), st.integers(0, 1000))
def test_same_seed_same_split(data, seed) -> None:
    labels, groups = data
    first = assign_splits(labels, fractions=FRACTIONS, groups=groups, seed=seed)
    again = assign_splits(list(labels), fractions=dict(FRACTIONS), groups=groups.copy(), seed=seed)
    assert list(first) == list(again)


@settings(max_examples=40, deadline=None)
@given(datasets(), st.integers(1, 200), st.integers(0, 1000))
def test_growth_keeps_existing_splits(data, extra, seed) -> None:
    labels, groups = data
    old = assign_splits(labels, fractions=FRACTIONS, groups=groups, seed=seed)
    rng = np.random.default_rng(seed)
    new_labels = labels + [f"c{k}" for k in rng.integers(0, 4, extra)]
    # new items join old groups about half the time, the rest are new groups
    joins = rng.random(extra) < 0.5
    new_groups = np.where(joins, rng.choice(groups, extra), groups.max() + 1 + np.arange(extra))
    all_groups = np.concatenate([groups, new_groups])
    existing = list(old) + [None] * extra
    grown = assign_splits(
        new_labels, fractions=FRACTIONS, groups=all_groups, existing=existing, seed=seed
    )
    assert list(grown[: len(labels)]) == list(old)
    assert (pd.Series(grown).groupby(all_groups).nunique() == 1).all()


def test_stratifies_every_class_on_a_fixed_case() -> None:
    rng = np.random.default_rng(0)
    labels = list(rng.choice(["cat", "dog", "owl", "eel"], size=2000, p=[0.55, 0.3, 0.1, 0.05]))
    groups = rng.integers(0, 1200, 2000)
    splits = assign_splits(labels, fractions=FRACTIONS, groups=groups, seed=3)
    report = split_report(splits, labels, FRACTIONS)
    assert report["fraction_error"] < 0.005
    assert report["class_error"] < 0.02  # each split's class mix is within 2 points of overall


def test_multi_label_and_unlabelled_items() -> None:
    labels = [["a", "b"], ["a"], None, ["b"], [], "a"] * 50
    splits = assign_splits(labels, fractions=FRACTIONS, seed=0)
    counts = pd.Series(splits).value_counts()
    assert abs(counts["train"] - 240) <= 1 and abs(counts["val"] - 30) <= 1
    assert split_report(splits, labels, FRACTIONS)["class_error"] < 0.02


def test_time_aware_puts_newest_in_test() -> None:
    times = pd.date_range("2024-01-01", periods=100, freq="D").strftime("%Y-%m-%d").tolist()
    order = np.random.default_rng(1).permutation(100)
    shuffled = [times[i] for i in order]
    splits = assign_splits(["x"] * 100, fractions=FRACTIONS, times=shuffled)
    frame = pd.DataFrame({"t": pd.to_datetime(shuffled), "split": splits})
    assert frame.groupby("split").size().to_dict() == {"train": 80, "val": 10, "test": 10}
    assert frame[frame.split == "train"].t.max() < frame[frame.split == "val"].t.min()
    assert frame[frame.split == "val"].t.max() < frame[frame.split == "test"].t.min()


def test_existing_group_pulls_new_members_into_its_split() -> None:
    splits = assign_splits(
        ["a"] * 4, fractions=FRACTIONS, groups=[7, 7, 8, 8], existing=["test", None, None, None]
    )
    assert list(splits[:2]) == ["test", "test"]


def test_combine_groups_joins_items_sharing_any_key() -> None:
    dup = [0, 0, 1, 2, 3, None]
    patient = ["p1", None, "p2", "p2", "p3", "p3"]
    ids = combine_groups(dup, patient)
    assert ids[0] == ids[1]
    assert ids[2] == ids[3] and ids[4] == ids[5]
    assert len({ids[0], ids[2], ids[4]}) == 3


def test_bad_fractions_are_named() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        assign_splits(["a"], fractions={"train": 0.8, "val": 0.1})
    with pytest.raises(ValueError, match="one entry per item"):
        assign_splits(["a", "b"], fractions=FRACTIONS, groups=[1])


def test_split_distributions_reports_aspect_and_quality() -> None:
    table = split_distributions(
        ["train", "train", "val"],
        width=[200, 100, 300],
        height=[100, 100, 100],
        quality={"blur": [1.0, 3.0, 5.0]},
    )
    assert table.loc["train", "images"] == 2
    assert table.loc["train", "aspect_median"] == pytest.approx(1.5)
    assert table.loc["val", "aspect_median"] == pytest.approx(3.0)
    assert table.loc["train", "blur_median"] == pytest.approx(2.0)
