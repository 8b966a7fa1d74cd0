"""Turning class probabilities into Label Studio results and task scores."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from winnow.labelstudio.controls.choices import ChoiceClass, ChoicesControl


def control(k: int, *, multiple: bool) -> ChoicesControl:
    classes = tuple(ChoiceClass(f"c{i}", (f"class {i}",)) for i in range(k))
    return ChoicesControl("label", "image", "image", multiple, classes)


def test_single_choice_is_the_top_class_scored_by_its_probability():
    items, score = control(3, multiple=False).result(np.array([0.2, 0.7, 0.1]), threshold=0.5)
    assert items == [
        {
            "from_name": "label",
            "to_name": "image",
            "type": "choices",
            "value": {"choices": ["c1"]},
            "score": pytest.approx(0.7),
        }
    ]
    assert score == pytest.approx(0.7)


def test_multiple_choice_keeps_every_class_at_the_threshold_most_probable_first():
    ctl = control(4, multiple=True)
    items, score = ctl.result(np.array([0.3, 0.9, 0.05, 0.3]), threshold=0.3)
    assert items[0]["value"]["choices"] == ["c1", "c0", "c3"]
    assert score == pytest.approx(0.9)
    items, score = ctl.result(np.array([0.1, 0.2, 0.05, 0.1]), threshold=0.3)
    assert items == [] and score == pytest.approx(0.2)


probabilities = st.integers(2, 12).flatmap(
    lambda k: arrays(np.float64, k, elements=st.floats(0, 1, allow_nan=False))
)


@given(probs=probabilities, threshold=st.floats(0.01, 0.99), multiple=st.booleans())
def test_scores_are_the_top_probability_and_choices_are_valid_labels(probs, threshold, multiple):
    ctl = control(len(probs), multiple=multiple)
    items, score = ctl.result(probs, threshold=threshold)
    assert score == pytest.approx(probs.max())
    assert 0.0 <= score <= 1.0
    chosen = [c for item in items for c in item["value"]["choices"]]
    assert set(chosen) <= set(ctl.labels)
    if multiple:
        assert chosen == [
            ctl.labels[k] for k in np.argsort(-probs, kind="stable") if probs[k] >= threshold
        ]
    else:
        assert chosen == [ctl.labels[int(np.argmax(probs))]]
