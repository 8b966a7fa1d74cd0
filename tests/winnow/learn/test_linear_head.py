import numpy as np
import pytest

from winnow.datasets import load_fashion_mnist
from winnow.learn.linear_head import LinearHead, fit_linear_head

CLASSES = ["cat", "dog", "fox"]


@pytest.fixture(scope="module")
def fashion() -> tuple[np.ndarray, list[str], tuple[str, ...]]:
    """1,000 real Fashion-MNIST photos as 14 x 14 pixel vectors, with their class names."""
    images, labels, names = load_fashion_mnist("test", limit=1000)
    small = images.reshape(len(images), 14, 2, 14, 2).mean(axis=(2, 4)) / 255.0
    vectors = small.reshape(len(images), -1)
    return vectors, [names[i] for i in labels], names


def _clusters(n_per: int, k: int, d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Well separated Gaussian clusters: class c sits at 4 * e_c."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), n_per)
    x = rng.normal(0, 0.5, (len(y), d)) + 4 * np.eye(d)[y]
    return x, y


def test_single_label_head_learns_real_images(fashion) -> None:
    vectors, labels, names = fashion
    head = fit_linear_head(
        vectors[:700], [[c] for c in labels[:700]], classes=list(names), multi_label=False
    )
    probs = head.predict_proba(vectors[700:])
    assert probs.shape == (300, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    predicted = [names[i] for i in probs.argmax(axis=1)]
    accuracy = np.mean([p == t for p, t in zip(predicted, labels[700:], strict=True)])
    assert accuracy > 0.7  # linear on raw pixels: about 0.8 on Fashion-MNIST


def test_classes_absent_from_training_keep_their_column_with_zero_probability() -> None:
    x, y = _clusters(20, 2)
    names = ["cat", "fox"]  # "dog" (column 1) has no example
    head = fit_linear_head(x, [[names[i]] for i in y], classes=CLASSES, multi_label=False)
    probs = head.predict_proba(x)
    assert probs.shape == (40, 3)
    np.testing.assert_array_equal(probs[:, 1], 0.0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    # the binary fit is mapped onto the right columns
    assert (probs[:20, 0] > 0.9).all() and (probs[20:, 2] > 0.9).all()


def test_a_single_class_predicts_it_with_certainty() -> None:
    x, _ = _clusters(5, 1)
    head = fit_linear_head(x, [["dog"]] * 5, classes=CLASSES, multi_label=False)
    np.testing.assert_array_equal(head.predict_proba(x[:2]), [[0, 1, 0], [0, 1, 0]])


def test_a_class_with_a_single_example_is_learned() -> None:
    x, y = _clusters(10, 3)
    keep = np.r_[0:10, 10, 20:30]  # one "dog"
    head = fit_linear_head(
        x[keep], [[CLASSES[i]] for i in y[keep]], classes=CLASSES, multi_label=False
    )
    assert head.predict_proba(x[10:11]).argmax() == 1


def test_multi_label_head_with_never_and_always_positive_classes() -> None:
    x, y = _clusters(15, 2)
    # "cat" follows the cluster, "dog" is never positive, "fox" is always positive
    labels = [(["cat"] if c == 0 else []) + ["fox"] for c in y]
    head = fit_linear_head(x, labels, classes=CLASSES, multi_label=True)
    probs = head.predict_proba(x)
    assert head.multi_label and probs.shape == (30, 3)
    assert (probs[:15, 0] > 0.9).all() and (probs[15:, 0] < 0.1).all()
    np.testing.assert_array_equal(probs[:, 1], 0.0)
    np.testing.assert_array_equal(probs[:, 2], 1.0)


def test_multi_label_rows_may_hold_several_labels_or_none(fashion) -> None:
    vectors, labels, _ = fashion
    tops = {"T-shirt/top", "Pullover", "Coat", "Shirt"}
    shoes = {"Sandal", "Sneaker", "Ankle boot"}
    tags = [(["top"] if c in tops else []) + (["shoe"] if c in shoes else []) for c in labels]
    head = fit_linear_head(
        vectors[:700], tags[:700], classes=["top", "shoe", "worn"], multi_label=True
    )
    probs = head.predict_proba(vectors[700:])
    truth = np.array([[("top" in t), ("shoe" in t)] for t in tags[700:]])
    assert ((probs[:, :2] > 0.5) == truth).mean() > 0.9
    np.testing.assert_array_equal(probs[:, 2], 0.0)


def test_save_and_load_round_trip(tmp_path, fashion) -> None:
    vectors, labels, names = fashion
    head = fit_linear_head(
        vectors[:300], [[c] for c in labels[:300]], classes=list(names), multi_label=False, seed=3
    )
    head.save(tmp_path / "head")
    assert sorted(p.name for p in (tmp_path / "head").iterdir()) == ["head.json", "head.npz"]
    loaded = LinearHead.load(tmp_path / "head")
    assert loaded.classes == tuple(names) and loaded.multi_label is False
    np.testing.assert_array_equal(
        loaded.predict_proba(vectors[300:]), head.predict_proba(vectors[300:])
    )


def test_load_refuses_what_is_not_a_head(tmp_path) -> None:
    with pytest.raises(ValueError, match="does not hold a saved linear head"):
        LinearHead.load(tmp_path)
    x, y = _clusters(5, 2)
    fit_linear_head(x, [[CLASSES[i]] for i in y], classes=CLASSES, multi_label=False).save(tmp_path)
    (tmp_path / "head.json").write_text('{"format": 99}')
    with pytest.raises(ValueError, match="format 99"):
        LinearHead.load(tmp_path)


def test_fitting_is_deterministic() -> None:
    x, y = _clusters(10, 3)
    labels = [[CLASSES[i]] for i in y]
    a = fit_linear_head(x, labels, classes=CLASSES, multi_label=False, seed=1)
    b = fit_linear_head(x, labels, classes=CLASSES, multi_label=False, seed=1)
    np.testing.assert_array_equal(a.coef, b.coef)


@pytest.mark.parametrize(
    ("vectors", "labels", "kwargs", "message"),
    [
        (np.zeros((2, 4)), [["cat"]], {}, "one list per vector"),
        (np.zeros((1, 4)), [["wolf"]], {}, r"not in classes: \['wolf'\]"),
        (np.zeros((1, 4)), [["cat", "dog"]], {}, "exactly one label"),
        (np.zeros((1, 4)), [[]], {}, "exactly one label"),
        (np.zeros((1, 4)), ["cat"], {}, "must be a list"),
        (np.full((1, 4), np.nan), [["cat"]], {}, "finite"),
        (np.zeros(4), [["cat"]], {}, "shape"),
        (np.zeros((0, 4)), [], {}, "at least one row"),
        (np.zeros((1, 4)), [["cat"]], {"classes": ["cat", "cat"]}, "distinct"),
        (np.zeros((1, 4)), [["cat"]], {"classes": []}, "non-empty"),
    ],
)
def test_bad_input_names_the_problem(vectors, labels, kwargs, message) -> None:
    options = {"classes": CLASSES, "multi_label": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        fit_linear_head(vectors, labels, **options)


def test_predict_refuses_vectors_of_another_dimension() -> None:
    x, y = _clusters(5, 2)
    head = fit_linear_head(x, [[CLASSES[i]] for i in y], classes=CLASSES, multi_label=False)
    with pytest.raises(ValueError, match=r"\(N, 8\)"):
        head.predict_proba(np.zeros((1, 5)))
