"""Report metrics and experiments against independent computations on real data."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from analysis.report import experiments as ex
from analysis.report.metrics import classification_metrics, expected_calibration_error
from winnow.datasets import load_fashion_mnist


def _ece_loop(y: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> float:
    """ECE written the textbook way: per bin (lo, hi], |acc - conf| weighted by bin size."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    total = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        inside = (conf > lo) & (conf <= hi) if b else (conf <= hi)
        if inside.any():
            total += inside.sum() * abs((pred[inside] == y[inside]).mean() - conf[inside].mean())
    return total / len(y)


@pytest.fixture(scope="module")
def fashion() -> tuple[np.ndarray, np.ndarray]:
    """600 real Fashion-MNIST images as 7 x 7 mean-pooled pixel vectors (no model needed)."""
    images, labels, _ = load_fashion_mnist("train", limit=600)
    pooled = images.reshape(len(images), 7, 4, 7, 4).mean(axis=(2, 4)) / 255.0
    return pooled.reshape(len(images), -1), labels


def _fit(x: np.ndarray, y: np.ndarray, seed: int):
    model = LogisticRegression(C=100.0, max_iter=2000, random_state=seed).fit(x, y)

    def predict(v: np.ndarray) -> np.ndarray:
        out = np.zeros((len(v), 10))
        out[:, model.classes_] = model.predict_proba(v)
        return out

    return predict


def test_metrics_match_sklearn_on_fashion_mnist(fashion) -> None:
    x, y = fashion
    probs = _fit(x[:400], y[:400], 0)(x[400:])
    yt, pred = y[400:], probs.argmax(axis=1)
    m = classification_metrics(yt, probs)
    assert m.accuracy == pytest.approx(accuracy_score(yt, pred))
    assert m.macro_precision == pytest.approx(
        precision_score(yt, pred, average="macro", zero_division=0)
    )
    assert m.macro_recall == pytest.approx(recall_score(yt, pred, average="macro"))
    assert m.macro_f1 == pytest.approx(f1_score(yt, pred, average="macro"))
    for c in range(10):
        assert m.auroc[c] == pytest.approx(roc_auc_score(yt == c, probs[:, c]))
    assert m.confusion.sum() == 200 and np.trace(m.confusion) == (pred == yt).sum()
    assert m.ece == pytest.approx(_ece_loop(yt, probs))
    assert 0.55 < m.accuracy < 0.95  # pooled pixels + logistic regression on 400 images


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 60), st.integers(2, 6), st.integers(0, 10_000))
def test_ece_matches_the_loop_and_lies_in_unit_interval(n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n)
    y = rng.integers(0, k, size=n)
    ece = expected_calibration_error(y, probs)
    assert 0.0 <= ece <= 1.0
    assert ece == pytest.approx(_ece_loop(y, probs))


def test_confident_and_right_is_perfectly_calibrated() -> None:
    y = np.array([0, 1, 2, 1])
    assert expected_calibration_error(y, np.eye(3)[y]) == 0.0
    assert expected_calibration_error(y, np.eye(3)[(y + 1) % 3]) == 1.0


def test_auroc_is_nan_for_a_class_missing_from_the_truth() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    m = classification_metrics(np.array([0, 1, 0]), probs)
    assert np.isnan(m.auroc[2]) and m.auroc[0] == 1.0


def test_sanity_checks_on_real_images(fashion) -> None:
    x, y = fashion
    shuffle = ex.shuffle_check(_fit, x[:400], y[:400], x[400:], y[400:])
    assert shuffle.passed and shuffle.accuracy <= shuffle.limit
    assert shuffle.chance == pytest.approx(np.bincount(y[400:]).max() / 200)
    overfit = ex.overfit_check(_fit, x[:400], y[:400], per_class=5)
    assert overfit.n == 50 and overfit.train_accuracy == 1.0 and overfit.passed


def test_learning_curve_grows_with_data(fashion) -> None:
    x, y = fashion
    curve = ex.learning_curve(_fit, x[:400], y[:400], x[400:], y[400:], seeds=(0, 1))
    assert list(curve["fraction"]) == [0.1, 0.1, 0.25, 0.25, 0.5, 0.5, 1.0]
    assert list(curve["n_train"][-1:]) == [400]
    means = curve.groupby("fraction")["accuracy"].mean()
    assert means[1.0] > means[0.1] + 0.05


def test_cleanliness_removes_flagged_rows(fashion) -> None:
    x, y = fashion
    noisy = y[:400].copy()
    flip = np.arange(0, 400, 3)  # a third of the training labels made wrong
    noisy[flip] = (noisy[flip] + 1) % 10
    train_issue = np.zeros(400, bool)
    train_issue[flip] = True
    c = ex.cleanliness(
        _fit,
        x[:400],
        noisy,
        x[400:],
        y[400:],
        train_issue=train_issue,
        test_issue=np.zeros(200, bool),
    )
    assert (c.n_train_raw, c.n_train_clean, c.n_test_clean) == (400, 266, 200)
    assert c.clean_accuracy > c.raw_accuracy


def test_stratified_subset_keeps_every_class() -> None:
    y = np.array([0] * 50 + [1] * 3 + [2])
    take = ex.stratified_subset(y, 0.1, seed=0)
    assert sorted(set(y[take])) == [0, 1, 2] and (y[take] == 0).sum() == 5
    with pytest.raises(ValueError, match="fraction"):
        ex.stratified_subset(y, 0.0, seed=0)
