"""Annotator disagreement from raw Label Studio annotations, checked against the vote."""

from __future__ import annotations

import pytest

from sync.review.agreement import disagreement_issues, ontology_warnings, project_kappa
from sync.review.queues import queue_of
from sync.review.state import TaskRow
from winnow.labelstudio.label_config import build_label_config, find_label_control

CONTROL = find_label_control(build_label_config(["cat", "dog"]))


def annotation(user: str, label: str, *, cancelled: bool = False) -> dict:
    return {
        "created_username": user,
        "was_cancelled": cancelled,
        "result": CONTROL.choices_result([label]),
    }


def task(task_id: int, *annotations: dict) -> TaskRow:
    return TaskRow(
        task_id=task_id,
        updated_at="",
        data={},
        meta={},
        predictions=[],
        annotations=list(annotations),
        image=None,
        sha256=None,
    )


def test_split_votes_become_findings_in_the_label_issue_queue() -> None:
    tasks = [
        task(1, annotation("ann", "cat"), annotation("bob", "cat")),  # agree
        task(2, annotation("ann", "cat"), annotation("bob", "dog")),  # even split
        task(3, annotation("ann", "dog"), annotation("bob", "dog"), annotation("cy", "cat")),
        task(4, annotation("ann", "cat")),  # one annotator: nothing to compare
        task(5, annotation("ann", "cat"), annotation("bob", "dog", cancelled=True)),
    ]
    issues = disagreement_issues(tasks, CONTROL).set_index("path")
    assert list(issues.index) == ["task:2", "task:3"]  # least agreed first
    assert issues.loc["task:2", "score"] == 1.0
    assert issues.loc["task:3", "score"] == pytest.approx(2 * (1 - 2 / 3), abs=1e-4)
    assert issues.loc["task:3", "given_label"] == "dog"
    assert "cat (cy)" in issues.loc["task:3", "details"]
    assert queue_of("annotator_disagreement").title == "Review: label issues (possible)"


def test_project_kappa_matches_fleiss_on_a_hand_computed_case() -> None:
    # two raters, four tasks: agree on 1, 2 and 4; p_o = 3/4; marginals cat 4/8, dog 4/8
    tasks = [
        task(i, annotation("ann", a), annotation("bob", b))
        for i, (a, b) in enumerate(
            [("cat", "cat"), ("dog", "dog"), ("cat", "dog"), ("dog", "dog")], start=1
        )
    ]
    # Fleiss: P_bar = 3/4, p_cat = 3/8, p_dog = 5/8 -> P_e = 9/64 + 25/64 = 34/64
    expected = (0.75 - 34 / 64) / (1 - 34 / 64)
    assert project_kappa(tasks, CONTROL) == pytest.approx(expected, abs=1e-4)
    assert project_kappa([task(9, annotation("ann", "cat"))], CONTROL) is None


def test_class_names_that_look_alike_are_reported_keeping_the_most_used() -> None:
    control = find_label_control(build_label_config(["Cat", "cats", "dog"]))
    tasks = [
        task(1, {"result": control.choices_result(["cats"])}),
        task(2, {"result": control.choices_result(["cats"])}),
        task(3, {"result": control.choices_result(["Cat"])}),
    ]
    (line,) = ontology_warnings(tasks, control)
    assert line.startswith("keep 'cats', merge 'Cat'")
