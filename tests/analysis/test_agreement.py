import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.agreement import (
    agreement_report,
    annotations_frame,
    count_table,
    disagreements,
    fleiss_kappa,
    fleiss_kappa_per_class,
    pairwise_cohen_kappa,
    per_annotator,
)

# Fleiss' kappa worked example (Wikipedia, "Fleiss' kappa"): 10 subjects, 14 raters, 5
# categories; published P-bar = 0.378, P-e = 0.213, kappa = 0.210.
WIKI_FLEISS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)


def _long_from_counts(counts: np.ndarray) -> pd.DataFrame:
    """Annotations whose count table is ``counts``; annotator names are arbitrary per task."""
    rows = []
    for task, row in enumerate(counts):
        labels = np.repeat(np.arange(len(row)), row)
        rows += [(task, f"r{r}", f"c{label}") for r, label in enumerate(labels)]
    return annotations_frame(*zip(*rows, strict=True))


def test_fleiss_matches_the_published_worked_example() -> None:
    assert fleiss_kappa(WIKI_FLEISS) == pytest.approx(0.20993, abs=5e-6)
    # and through the long table: the count table rebuilds the same matrix
    table = count_table(_long_from_counts(WIKI_FLEISS))
    np.testing.assert_array_equal(table.to_numpy(), WIKI_FLEISS)
    assert fleiss_kappa(table.to_numpy()) == pytest.approx(fleiss_kappa(WIKI_FLEISS))


def test_per_class_kappas_average_back_to_the_overall_kappa() -> None:
    per_class = fleiss_kappa_per_class(WIKI_FLEISS)
    p = WIKI_FLEISS.sum(axis=0) / WIKI_FLEISS.sum()
    weights = p * (1 - p)
    assert np.sum(weights * per_class) / weights.sum() == pytest.approx(0.20993, abs=5e-6)
    # category 5 (14 of 14 on subject 1, 7 of 14 on subject 10) is the most agreed on
    assert per_class.argmax() == 4


def test_cohen_kappa_on_the_textbook_two_by_two() -> None:
    # 50 items: both "yes" 20, A yes/B no 5, A no/B yes 10, both "no" 15 -> kappa 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    frame = annotations_frame(list(range(50)) * 2, ["A"] * 50 + ["B"] * 50, a + b)
    pairs = pairwise_cohen_kappa(frame)
    assert len(pairs) == 1
    row = pairs.iloc[0]
    assert (row["annotator_a"], row["annotator_b"], row["n_tasks"]) == ("A", "B", 50)
    assert row["kappa"] == pytest.approx(0.4)
    assert row["agreement"] == pytest.approx(0.7)


def test_per_annotator_and_disagreements_on_a_small_case() -> None:
    frame = annotations_frame(
        [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4],
        list("abcabcabcab"),
        ["cat", "cat", "dog", "dog", "dog", "dog", "cat", "dog", "bird", "cat", "cat"],
    )
    table = per_annotator(frame, min_overlap=1).set_index("annotator")
    assert table.loc["a", "n_tasks"] == 4 and table.loc["c", "n_tasks"] == 3
    # a agrees with the others' strict majority on task 2 and 4, ties on 1, loses on 3
    assert table.loc["a", "agrees_with_others"] == pytest.approx(0.5)
    assert table.loc["c", "agrees_with_others"] == pytest.approx(1 / 3)
    assert table.index[0] == "c"  # least consistent first
    worst = disagreements(frame)
    assert list(worst["task_id"]) == [3, 1]  # three labels out of three, then 2 vs 1
    assert worst.iloc[1]["majority_label"] == "cat"
    assert worst.iloc[1]["labels"] == {"cat": ["a", "b"], "dog": ["c"]}


def test_the_report_gathers_every_measure() -> None:
    report = agreement_report(_long_from_counts(WIKI_FLEISS))
    assert report.fleiss_kappa == pytest.approx(0.20993, abs=5e-6)
    assert list(report.per_class["label"])[-1] == "c4"  # most agreed class last
    assert report.per_class["n_annotations"].sum() == WIKI_FLEISS.sum()
    assert len(report.disagreements) == 9  # every subject but the unanimous first one
    assert len(report.annotators) == 14 and not report.pairs.empty


def test_invalid_tables_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="more than once"):
        annotations_frame([1, 1], ["a", "a"], ["x", "y"])
    with pytest.raises(ValueError, match="one length"):
        annotations_frame([1, 2], ["a"], ["x", "y"])
    with pytest.raises(ValueError, match="lacks columns"):
        pairwise_cohen_kappa(pd.DataFrame({"task_id": [1], "label": ["x"]}))
    with pytest.raises(ValueError, match="at least two annotations"):
        fleiss_kappa(np.array([[1, 0], [0, 1]]))


@st.composite
def annotation_tables(draw: st.DrawFn) -> pd.DataFrame:
    n_tasks = draw(st.integers(2, 30))
    annotators = [f"a{i}" for i in range(draw(st.integers(2, 5)))]
    n_labels = draw(st.integers(2, 4))
    rows = []
    for task in range(n_tasks):
        who = draw(st.lists(st.sampled_from(annotators), min_size=1, unique=True))
        rows += [(task, a, draw(st.integers(0, n_labels - 1))) for a in who]
    return annotations_frame(*zip(*rows, strict=True))


@settings(max_examples=80, deadline=None)
@given(annotation_tables())
def test_kappas_lie_in_minus_one_to_one(frame: pd.DataFrame) -> None:
    pairs = pairwise_cohen_kappa(frame, min_overlap=1)
    kappas = pairs["kappa"].dropna()
    assert ((kappas >= -1 - 1e-9) & (kappas <= 1 + 1e-9)).all()
    counts = count_table(frame).to_numpy()
    if (counts.sum(axis=1) >= 2).any():
        kappa = fleiss_kappa(counts)
        assert np.isnan(kappa) or -1 - 1e-9 <= kappa <= 1 + 1e-9
        per_class = fleiss_kappa_per_class(counts)
        assert np.all(np.isnan(per_class) | (per_class <= 1 + 1e-9))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=3, max_size=40), st.integers(2, 5))
def test_identical_annotators_have_kappa_one_and_no_disagreement(labels, n_annotators) -> None:
    if len(set(labels)) < 2:
        labels = [*labels, (labels[0] + 1) % 4]  # one class only leaves kappa undefined
    tasks = list(range(len(labels)))
    frame = annotations_frame(
        tasks * n_annotators,
        [f"a{i}" for i in range(n_annotators) for _ in tasks],
        labels * n_annotators,
    )
    np.testing.assert_allclose(pairwise_cohen_kappa(frame)["kappa"], 1.0)
    assert fleiss_kappa(count_table(frame).to_numpy()) == pytest.approx(1.0)
    assert disagreements(frame).empty
    assert (per_annotator(frame)["agrees_with_others"] == 1.0).all()
