import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis.uncertainty import METHODS, uncertainty_score


@st.composite
def single_label_probs(draw: st.DrawFn, min_k: int = 2, max_k: int = 12) -> np.ndarray:
    k = draw(st.integers(min_k, max_k))
    n = draw(st.integers(1, 20))
    weights = draw(arrays(np.float64, (n, k), elements=st.floats(0.0, 1.0)))
    weights[:, 0] += 1e-6  # no all-zero row
    return weights / weights.sum(axis=1, keepdims=True)


def test_exact_values_on_a_small_case() -> None:
    probs = np.array([[0.5, 0.3, 0.2], [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    margin = uncertainty_score(probs, "margin")
    np.testing.assert_allclose(margin, [0.2, 1.0, 0.0], atol=1e-12)
    least = uncertainty_score(probs, "least_confidence")
    np.testing.assert_allclose(least, [(0.5 - 1 / 3) / (2 / 3), 1.0, 0.0], atol=1e-12)
    entropy = uncertainty_score(probs, "entropy")
    h = -(0.5 * np.log(0.5) + 0.3 * np.log(0.3) + 0.2 * np.log(0.2))
    np.testing.assert_allclose(entropy, [1 - h / np.log(3), 1.0, 0.0], atol=1e-12)


def test_default_method_is_margin() -> None:
    probs = np.array([[0.6, 0.3, 0.1], [0.4, 0.35, 0.25]])
    np.testing.assert_array_equal(uncertainty_score(probs), uncertainty_score(probs, "margin"))


@settings(max_examples=200, deadline=None)
@given(single_label_probs(), st.sampled_from(METHODS))
def test_scores_lie_in_the_unit_interval(probs: np.ndarray, method: str) -> None:
    score = uncertainty_score(probs, method)
    assert score.shape == (len(probs),)
    assert np.all((score >= 0) & (score <= 1))


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 10), st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.sampled_from(METHODS))
def test_more_mass_on_the_top_class_scores_higher(k: int, a: float, b: float, method: str) -> None:
    """Moving mass from the uniform rest to class 0 makes the model surer: higher score."""
    lo, hi = sorted((a, b))
    rest = np.full(k - 1, 1.0 / (k - 1))
    probs = np.array(
        [[t, *((1 - t) * rest)] for t in (1 / k + lo * (1 - 1 / k), 1 / k + hi * (1 - 1 / k))]
    )
    low_score, high_score = uncertainty_score(probs, method)
    assert low_score <= high_score + 1e-12
    if hi - lo > 1e-6:
        assert low_score < high_score


@settings(max_examples=200, deadline=None)
@given(single_label_probs(min_k=2, max_k=2))
def test_the_three_methods_agree_for_two_classes(probs: np.ndarray) -> None:
    margin = uncertainty_score(probs, "margin")
    np.testing.assert_allclose(uncertainty_score(probs, "least_confidence"), margin, atol=1e-9)
    # entropy is a monotone function of the margin when K = 2: the same ordering
    entropy = uncertainty_score(probs, "entropy")
    order = np.argsort(margin, kind="stable")
    assert np.all(np.diff(entropy[order]) >= -1e-9)


@settings(max_examples=100, deadline=None)
@given(single_label_probs(), st.sampled_from(METHODS))
def test_scores_do_not_depend_on_class_order(probs: np.ndarray, method: str) -> None:
    permuted = probs[:, np.random.default_rng(0).permutation(probs.shape[1])]
    np.testing.assert_allclose(
        uncertainty_score(permuted, method), uncertainty_score(probs, method), atol=1e-12
    )


def test_uniform_is_zero_and_one_hot_is_one_for_every_method() -> None:
    for k in (2, 3, 10):
        probs = np.vstack([np.full(k, 1 / k), np.eye(k)[0]])
        for method in METHODS:
            np.testing.assert_allclose(uncertainty_score(probs, method), [0.0, 1.0], atol=1e-12)


def test_multi_label_takes_the_most_uncertain_class() -> None:
    probs = np.array([[0.99, 0.02, 0.5], [0.9, 0.1, 0.95], [0.0, 1.0, 1.0]])
    margin = uncertainty_score(probs, "margin", multi_label=True)
    # per-class binary margin |2p - 1|, minimum over classes
    np.testing.assert_allclose(margin, [0.0, 0.8, 1.0], atol=1e-12)
    entropy = uncertainty_score(probs, "entropy", multi_label=True)
    assert entropy[0] == pytest.approx(0.0) and entropy[2] == pytest.approx(1.0)
    assert 0 < entropy[1] < 1


@settings(max_examples=100, deadline=None)
@given(
    arrays(
        np.float64, st.tuples(st.integers(1, 15), st.integers(1, 8)), elements=st.floats(0.0, 1.0)
    ),
    st.sampled_from(METHODS),
)
def test_multi_label_scores_lie_in_the_unit_interval(probs: np.ndarray, method: str) -> None:
    score = uncertainty_score(probs, method, multi_label=True)
    assert score.shape == (len(probs),)
    assert np.all((score >= 0) & (score <= 1))


def test_multi_label_rows_need_not_sum_to_one_but_single_label_rows_must() -> None:
    probs = np.array([[0.9, 0.8], [0.1, 0.2]])
    np.testing.assert_allclose(uncertainty_score(probs, multi_label=True), [0.6, 0.6])
    with pytest.raises(ValueError, match="sum to 1"):
        uncertainty_score(probs)


def test_an_empty_chunk_gives_an_empty_result() -> None:
    assert uncertainty_score(np.zeros((0, 3))).shape == (0,)
    assert uncertainty_score(np.zeros((0, 3)), multi_label=True).shape == (0,)


@pytest.mark.parametrize(
    ("probs", "kwargs", "error", "message"),
    [
        (np.array([0.5, 0.5]), {}, ValueError, "shape"),
        (np.array([[1.0]]), {}, ValueError, "K >= 2"),
        (np.zeros((2, 0)), {"multi_label": True}, ValueError, "K >= 1"),
        (np.array([[np.nan, 0.5]]), {}, ValueError, "NaN"),
        (np.array([[np.inf, 0.5]]), {"multi_label": True}, ValueError, "NaN or inf"),
        (np.array([[1.5, -0.5]]), {}, ValueError, r"\[0, 1\]"),
        (np.array([[0.7, 0.7]]), {}, ValueError, "sum to 1"),
        (np.array([[1, 0]]), {}, TypeError, "float"),
        (np.array([[0.5, 0.5]]), {"method": "bald"}, ValueError, "method"),
    ],
)
def test_bad_input_names_the_problem(
    probs: np.ndarray, kwargs: dict, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        uncertainty_score(probs, **kwargs)
