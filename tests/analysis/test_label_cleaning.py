"""Dropping or relabelling flagged labels, the light head, and the cleanliness curve, on real
Fashion-MNIST embeddings with known injected noise."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.label_cleaning import (
    CleanlinessCurve,
    CurvePoint,
    clean_labels,
    cleaning_gain,
    light_head,
    scores,
)
from winnow.config import get_settings
from winnow.datasets import embed_small_images, load_fashion_mnist
from winnow.errors import WinnowError
from winnow.models import make_embedder

N_TRAIN, N_TEST = 300, 150
RATE = 0.3


@pytest.fixture(scope="module")
def fashion() -> dict:
    """Real embeddings; 30% of the training labels flipped class-to-class (a fixed
    derangement), the kind of noise a model learns and cleaning must undo."""
    try:
        images, labels, _ = load_fashion_mnist("train", limit=N_TRAIN + N_TEST)
    except WinnowError as exc:
        pytest.fail(f"{exc}. Run `make apt` to install the data set.")
    x = embed_small_images(images, make_embedder(get_settings().embedding))
    y = labels[:N_TRAIN]
    rng = np.random.default_rng(3)
    changed = np.sort(rng.choice(N_TRAIN, int(RATE * N_TRAIN), replace=False))
    noisy = y.copy()
    noisy[changed] = (y[changed] + 1) % 10
    return {
        "x": x[:N_TRAIN],
        "y": y,
        "noisy": noisy,
        "changed": changed,
        "xt": x[N_TRAIN:],
        "yt": labels[N_TRAIN:],
    }


def test_clean_labels_exact() -> None:
    y = np.array([0, 1, 2, 1, 0])
    suggested = np.array([1, 1, 0, 2, 0])
    rows, labels = clean_labels(y, np.array([2, 3]), mode="drop")
    assert rows.tolist() == [0, 1, 4] and labels.tolist() == [0, 1, 0]
    rows, labels = clean_labels(y, np.array([2, 3]), mode="relabel", suggested=suggested)
    assert rows.tolist() == [0, 1, 2, 3, 4] and labels.tolist() == [0, 1, 0, 2, 0]
    flags = np.array([True, False, False, False, False])
    assert clean_labels(y, flags, mode="raw")[1].tolist() == y.tolist()
    assert clean_labels(y, flags, mode="drop")[0].tolist() == [1, 2, 3, 4]


def test_clean_labels_rejects_bad_input() -> None:
    y = np.array([0, 1, 1])
    with pytest.raises(ValueError, match="mode"):
        clean_labels(y, np.array([0]), mode="fix")
    with pytest.raises(ValueError, match="suggested is required"):
        clean_labels(y, np.array([0]), mode="relabel")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        clean_labels(y, np.array([3]), mode="drop")
    with pytest.raises(ValueError, match="shape"):
        clean_labels(y, np.array([True, False]), mode="drop")


@given(
    st.lists(st.integers(0, 4), min_size=1, max_size=40).flatmap(
        lambda y: st.tuples(st.just(y), st.lists(st.booleans(), min_size=len(y), max_size=len(y)))
    )
)
def test_clean_labels_properties(case) -> None:
    y, flags = np.array(case[0]), np.array(case[1], dtype=bool)
    suggested = (y + 1) % 5
    rows, labels = clean_labels(y, flags, mode="drop")
    assert len(rows) == len(y) - flags.sum() and np.array_equal(labels, y[~flags])
    rows, labels = clean_labels(y, flags, mode="relabel", suggested=suggested)
    assert len(rows) == len(y)
    assert np.array_equal(labels[~flags], y[~flags])  # unflagged labels never change
    assert np.array_equal(labels[flags], suggested[flags])


def test_light_head_on_real_images_fills_absent_classes(fashion: dict) -> None:
    fit = light_head(10)
    acc, f1 = scores(fit(fashion["x"], fashion["y"], 0), fashion["xt"], fashion["yt"])
    assert acc > 0.65 and 0 < f1 <= 1  # a backbone probe on 300 images; chance is 0.1
    keep = fashion["y"] != 9  # no "ankle boot" in training: its column must stay 0
    probs = fit(fashion["x"][keep], fashion["y"][keep], 0)(fashion["xt"])
    assert probs.shape == (N_TEST, 10) and np.all(probs[:, 9] == 0)
    assert np.allclose(probs.sum(axis=1), 1)


def test_cleaning_the_changed_labels_recovers_accuracy(fashion: dict) -> None:
    """With flags that are exactly the changed labels, dropping them beats the raw labels on
    the clean held-out images, and relabelling them with the truth equals the true labels."""
    fit, f = light_head(10), fashion
    raw = scores(fit(f["x"], f["noisy"], 0), f["xt"], f["yt"])[0]
    rows, labels = clean_labels(f["noisy"], f["changed"], mode="drop")
    dropped = scores(fit(f["x"][rows], labels, 0), f["xt"], f["yt"])[0]
    rows, labels = clean_labels(f["noisy"], f["changed"], mode="relabel", suggested=f["y"])
    assert np.array_equal(labels, f["y"])
    true = scores(fit(f["x"], f["y"], 0), f["xt"], f["yt"])[0]
    assert dropped > raw + 0.05
    assert true >= dropped - 0.03


def test_cleaning_gain_cross_validates_on_unflagged_rows(fashion: dict) -> None:
    f = fashion
    gain = cleaning_gain(f["x"], f["noisy"], f["changed"], f["y"], fit=light_head(10), n_folds=3)
    assert gain.n == N_TRAIN and gain.n_flagged == len(f["changed"]) and gain.folds == 3
    assert gain.n_scored == N_TRAIN - len(f["changed"])
    assert set(gain.accuracy) == {"raw", "drop", "relabel"}
    assert all(0 <= a <= 1 for a in gain.accuracy.values())
    # the scored labels are the unchanged (true) ones: cleaning the flips must pay
    assert gain.gain("drop") > 0.03 and gain.gain("relabel") > 0.03
    assert gain.best in ("drop", "relabel")
    none = cleaning_gain(
        f["x"], f["noisy"], np.zeros(N_TRAIN, bool), f["y"], fit=light_head(10), n_folds=3
    )
    assert none.gain("drop") == 0 and none.gain("relabel") == 0  # nothing flagged, same model


def _point(rate: float, labels: str, accuracy: float, seed: int = 0) -> CurvePoint:
    return CurvePoint("uniform", rate, 1.0, seed, labels, 100, accuracy, accuracy)


def test_curve_table_and_gap_closed_exact() -> None:
    curve = CleanlinessCurve(
        (
            _point(0.1, "raw", 0.80),
            _point(0.1, "raw", 0.70, seed=1),  # mean over seeds: 0.75
            _point(0.1, "drop", 0.80),
            _point(0.1, "true", 0.85),
            _point(0.2, "raw", 0.60),
            _point(0.2, "drop", 0.50),
            _point(0.2, "true", 0.60),
        )
    )
    table = curve.table()
    assert list(table.columns) == ["raw", "drop", "true"]
    assert table.loc[("uniform", 0.1, 1.0), "raw"] == pytest.approx(0.75)
    closed = curve.gap_closed("drop")
    assert closed[("uniform", 0.1, 1.0)] == pytest.approx(0.5)
    assert np.isnan(closed[("uniform", 0.2, 1.0)])  # raw equals true: no gap to close
