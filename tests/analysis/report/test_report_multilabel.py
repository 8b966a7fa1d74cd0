"""The multi-label model report on the Fashion-MNIST mosaic test bed, its numbers checked
against an independent scikit-learn computation."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.multiclass import OneVsRestClassifier

from analysis.report import multilabel_metrics as mm
from analysis.report.multilabel_report import (
    TRAINED,
    MultiLabelSplit,
    build_multilabel_report,
    out_of_fold,
    render_multilabel_report,
)
from analysis.report.readiness import CheckItem
from winnow.mosaics import fashion_mnist_mosaics


def _pooled(mosaics: np.ndarray) -> np.ndarray:
    """56 x 56 mosaics -> 14 x 14 mean-pooled pixel vectors (a real-image feature, no model)."""
    return (
        mosaics.reshape(len(mosaics), 14, 4, 14, 4).mean(axis=(2, 4)).reshape(len(mosaics), -1)
        / 255
    )


def _fit(x: np.ndarray, y: np.ndarray, seed: int):
    model = OneVsRestClassifier(LogisticRegression(C=1.0, max_iter=500, random_state=seed))
    constant = y.all(axis=0) | ~y.any(axis=0)
    if constant.any():  # a subset without a class: predict its constant

        def predict(v: np.ndarray) -> np.ndarray:
            return np.tile(y[0].astype(float), (len(v), 1))

        return predict
    model.fit(x, y.astype(int))
    return model.predict_proba


@pytest.fixture(scope="module")
def bed() -> MultiLabelSplit:
    train, y_train, names = fashion_mnist_mosaics(500, split="train", seed=0)
    test, y_test, _ = fashion_mnist_mosaics(250, split="test", seed=1)
    return MultiLabelSplit(list(names), _pooled(train), y_train, _pooled(test), y_test, "test")


@pytest.fixture(scope="module")
def report(bed: MultiLabelSplit):
    flagged = np.zeros(len(bed.y_train), bool)
    flagged[:10] = True
    return build_multilabel_report(
        bed,
        _fit,
        others={"zero-shot": "not installed in this test"},
        train_issue=flagged,
        test_issue=np.zeros(len(bed.y_test), bool),
        seeds=(0,),
    )


def test_mosaics_are_deterministic_and_label_sets_match_content() -> None:
    a, ya, names = fashion_mnist_mosaics(40, seed=3)
    b, yb, _ = fashion_mnist_mosaics(40, seed=3)
    assert np.array_equal(a, b) and np.array_equal(ya, yb)
    assert len(names) == ya.shape[1] == 10
    cells = a.reshape(40, 2, 28, 2, 28).transpose(0, 1, 3, 2, 4).reshape(40, 4, -1)
    filled = (cells.max(axis=2) > 0).sum(axis=1)  # Fashion-MNIST items are never all black
    assert (ya.sum(axis=1) >= 1).all() and (ya.sum(axis=1) <= filled).all()
    assert set(np.unique(ya.sum(axis=1))) >= {1, 2, 3}


def test_report_numbers_match_sklearn(report, bed: MultiLabelSplit) -> None:
    probs = _fit(bed.x_train, bed.y_train, 0)(bed.x_test)
    y = bed.y_test.astype(int)
    m = report.metrics[TRAINED]
    assert np.allclose(m.auroc, roc_auc_score(y, probs, average=None))
    assert np.allclose(m.ap, average_precision_score(y, probs, average=None))
    assert m.micro_auroc == pytest.approx(roc_auc_score(y, probs, average="micro"))
    assert m.macro_auroc == pytest.approx(roc_auc_score(y, probs, average="macro"))
    assert m.micro_ap == pytest.approx(average_precision_score(y, probs, average="micro"))
    assert m.macro_ap == pytest.approx(average_precision_score(y, probs, average="macro"))
    assert m.micro_f1 == pytest.approx(f1_score(y, probs >= 0.5, average="micro"))
    assert 0.75 < m.macro_auroc < 1.0  # real signal, but not a leak
    # the tuned thresholds are the training rows' out-of-fold F1 optimum
    oof = out_of_fold(_fit, bed.x_train, bed.y_train)
    for k, t in enumerate(report.thresholds):
        tuned = f1_score(bed.y_train[:, k], oof[:, k] >= t)
        assert tuned >= f1_score(bed.y_train[:, k], oof[:, k] >= 0.5) - 1e-12
    effect = report.effect
    assert np.allclose(effect["f1_at_0.5"].iloc[:10], f1_score(y, probs >= 0.5, average=None))
    tuned = probs >= report.thresholds[None, :]
    assert effect.loc["macro", "f1_tuned"] == pytest.approx(f1_score(y, tuned, average="macro"))
    assert report.shuffle.passed and report.shuffle.macro_auroc < report.shuffle.limit


def test_report_label_statistics(report, bed: MultiLabelSplit) -> None:
    both = np.vstack([bed.y_train, bed.y_test])
    k = both.shape[1]
    for a in range(k):
        for b in range(k):
            assert report.cooccurrence[a, b] == int((both[:, a] & both[:, b]).sum())
    sizes = bed.y_test.sum(axis=1)
    for count, images in report.cardinality["held-out"].items():
        assert images == int((sizes == count).sum())
    assert report.cleanliness.loc["cleaned", "n_train"] == len(bed.y_train) - 10


def test_report_renders_with_the_numbers(report) -> None:
    items = [CheckItem("a check", True, "fine"), CheckItem("b check", None, "skipped")]
    html = render_multilabel_report(report, checklist=items, plotlyjs="compressed")
    for section in ("comparison", "thresholds", "labels", "cleanliness", "size", "readiness"):
        assert f'data-section="{section}"' in html
    for name in ("roc_0", "pr_0", "cooccurrence", "cardinality", "thresholds"):
        assert f'data-figure="{name}"' in html
    shown = re.search(rf'data-metric="{re.escape(TRAINED)}:macro_ap" data-value="([^"]+)"', html)
    assert float(shown.group(1)) == pytest.approx(report.metrics[TRAINED].macro_ap)
    assert 'data-verdict="go"' in html and 'data-unavailable="zero-shot"' in html


def test_macro_skips_classes_without_positives() -> None:
    y = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    p = np.array([[0.9, 0.2, 0.1], [0.3, 0.8, 0.2], [0.6, 0.7, 0.3], [0.1, 0.1, 0.4]])
    m = mm.multilabel_metrics(y, p)
    assert np.isnan(m.auroc[2]) and np.isnan(m.ap[2])
    assert m.macro_auroc == pytest.approx(roc_auc_score(y[:, :2], p[:, :2], average="macro"))


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (30, 3), elements=st.floats(0, 1)),
    arrays(np.bool_, (30, 3)),
)
def test_tuned_thresholds_lie_in_unit_interval_and_never_lose_f1(p, y) -> None:
    t = mm.tune_thresholds(y, p)
    assert ((t >= 0) & (t <= 1)).all()
    for k in range(3):
        if y[:, k].any():
            assert f1_score(y[:, k], p[:, k] >= t[k]) >= f1_score(y[:, k], p[:, k] >= 0.5) - 1e-12
