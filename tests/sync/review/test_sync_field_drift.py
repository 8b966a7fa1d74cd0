"""A refit that only moves numbers does not rewrite a task; anything a reviewer acts on does."""

from __future__ import annotations

from sync.review.field_drift import SCORE_TOLERANCE, only_numbers_drifted
from sync.review.push import plan_task, wanted_data
from sync.review.state import Finding, TaskRow
from winnow.labelstudio.label_config import find_label_control

CONFIG = (
    '<View><Image name="image" value="$image"/><Choices name="label" toName="image">'
    '<Choice value="cat"/><Choice value="dog"/></Choices></View>'
)


def _finding(score: float, wrong: float, *, suggested: str = "dog", kind: str = "label_issue"):
    return Finding(
        task_id=1,
        issue_type=kind,
        score=score,
        group=None,
        given_label="cat",
        suggested_label=suggested,
        details=f"P(label wrong)={wrong:.2f}; out-of-sample p(dog)=0.81, p(given)=0.12",
        sha256="a" * 64,
    )


def _written(findings: list[Finding]) -> TaskRow:
    """A task as Label Studio returns it after a sync wrote ``findings``."""
    bare = TaskRow(1, "t", {"image": "/data/1.jpg"}, {}, [], [], "/data/1.jpg", "a" * 64)
    data, meta = wanted_data(bare, findings)
    return TaskRow(1, "t", data, meta, [], [], bare.image, bare.sha256)


def test_numbers_that_moved_a_little_are_not_rewritten() -> None:
    task = _written([_finding(0.91, 0.88)])
    drifted = [_finding(0.91 + SCORE_TOLERANCE / 2, 0.93)]
    assert wanted_data(task, drifted) != (task.data, task.meta)  # the numbers did move
    assert only_numbers_drifted((task.data, task.meta), wanted_data(task, drifted))
    control = find_label_control(CONFIG)
    assert plan_task(task, drifted, control).data is None  # no PATCH


def test_a_larger_move_or_a_material_change_is_written() -> None:
    task = _written([_finding(0.91, 0.88)])
    control = find_label_control(CONFIG)
    for changed in (
        [_finding(0.91 + 2 * SCORE_TOLERANCE, 0.88)],  # the sort key moved too far
        [_finding(0.91, 0.88, suggested="cat")],  # another suggestion
        [_finding(0.91, 0.88, kind="possible_label_issue")],  # another queue
        [_finding(0.91, 0.88), _finding(0.5, 0.5, kind="near_duplicate")],  # a new flag
        [],  # no longer flagged
    ):
        wanted = wanted_data(task, changed)
        assert not only_numbers_drifted((task.data, task.meta), wanted)
        assert plan_task(task, changed, control).data is not None
