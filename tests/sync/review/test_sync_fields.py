"""What a sync writes to a task, and the Views it asks for: only Winnow's fields change,
other flags and data survive, and writing twice is the same as writing once."""

from __future__ import annotations

from sync.review.push import META_KEY, wanted_data, wanted_prediction
from sync.review.queues import FIELDS, QUEUES, queue_of
from sync.review.review_control import with_review_control
from sync.review.state import Finding, TaskRow
from sync.review.taskinfo import current_annotation, labels_of, review_choice
from sync.review.views import view_data
from winnow.labelstudio.label_config import (
    build_label_config,
    find_label_control,
    has_review_control,
)

CONTROL = find_label_control(build_label_config(["cat", "dog"]))


def _task(data: dict | None = None, annotations: list | None = None, meta: dict | None = None):
    return TaskRow(
        1,
        "2026-01-01T00:00:00Z",
        {"image": "/data/upload/1/a.png", **(data or {})},
        meta or {},
        annotations or [],
        [],
        "/data/upload/1/a.png",
        "ab" * 32,
    )


def _finding(issue: str, score: float, **kw) -> Finding:
    return Finding(
        1,
        issue,
        score,
        kw.get("group"),
        kw.get("given", "cat"),
        kw.get("suggested"),
        kw.get("details", "why"),
        "ab" * 32,
    )


def _choice(value: list[str], name: str = "label", **kw) -> dict:
    return {
        "from_name": name,
        "to_name": "image",
        "type": "choices",
        "value": {"choices": value},
        **kw,
    }


def test_findings_become_filterable_fields_and_other_flags_survive() -> None:
    task = _task({"split": "train", "winnow_flags": ["no_licence"]}, meta={"winnow": {"x": 1}})
    findings = [
        _finding("label_issue", 0.8, suggested="dog"),
        _finding("near_duplicate", 0.95, group="dup-3"),
        _finding("blurry", 0.4),
    ]
    data, meta = wanted_data(task, findings)
    assert data["winnow_flags"] == ["no_licence", "near_duplicate", "label_issue", "blurry"]
    assert data["winnow_queues"] == ["image_quality", "label_issues_likely", "near_duplicates"]
    assert data["winnow_severity"] == 0.95 and data["winnow_label_issue_score"] == 0.8
    assert (data["winnow_suggested_label"], data["winnow_dup_group"]) == ("dog", "dup-3")
    assert data["split"] == "train" and data["image"] == task.data["image"]
    assert meta["winnow"] == {"x": 1} and meta[META_KEY][0].startswith("near_duplicate (0.95)")


def test_writing_twice_equals_writing_once_and_clearing_restores_the_task() -> None:
    original = _task({"split": "val", "winnow_flags": ["no_licence"]})
    findings = [_finding("split_leak", 1.0, group="dup-1")]
    data, meta = wanted_data(original, findings)
    written = _task(data, meta=meta)
    assert wanted_data(written, findings) == (data, meta)
    cleared, cleared_meta = wanted_data(written, [])
    assert cleared == original.data and cleared_meta == {}
    assert not set(FIELDS) - {"winnow_flags"} & set(cleared)


def test_prediction_only_for_label_issues_with_a_suggestion() -> None:
    assert wanted_prediction([_finding("blurry", 0.9)], CONTROL) is None
    result = wanted_prediction([_finding("label_issue", 0.7, suggested="dog")], CONTROL)
    assert result == [_choice(["dog"])]


def test_every_finding_type_has_a_queue_and_views_sort_by_severity() -> None:
    assert queue_of("exact_duplicate").key == queue_of("near_duplicate").key == "near_duplicates"
    assert queue_of("box_degenerate").title == "Review: boxes"
    assert queue_of("odd_aspect_ratio").title == "Review: image quality"
    for queue in QUEUES:
        data = view_data(queue)
        assert data["title"] == queue.title
        assert data["filters"]["items"][0]["value"] == queue.key
        assert data["ordering"] == [queue.ordering or f"-tasks:data.{queue.score_field}"]
    # the spot check is a random sample: in task order, so a half-settled one does not lean
    # to the most probably wrong tasks
    assert view_data(queue_of("label_spot_check"))["ordering"] == ["tasks:id"]
    assert view_data(None)["filters"]["items"][0]["operator"] == "greater"


def test_current_annotation_is_the_newest_not_cancelled_one() -> None:
    old = {"id": 1, "updated_at": "2026-01-01T00:00:00Z", "result": [_choice(["cat"])]}
    new = {
        "id": 2,
        "updated_at": "2026-01-02T00:00:00Z",
        "result": [_choice(["dog"]), _choice(["keep"], name="winnow_review")],
    }
    cancelled = {
        "id": 3,
        "updated_at": "2026-01-03T00:00:00Z",
        "was_cancelled": True,
        "result": [_choice(["cat"])],
    }
    task = _task(annotations=[old, new, cancelled])
    assert current_annotation(task)["id"] == 2
    assert labels_of(task, CONTROL) == ["dog"]
    assert review_choice(task)[0] == "keep"
    assert labels_of(_task(), CONTROL) == [] and review_choice(_task()) == (None, None)
    only_review = {
        "id": 4,
        "updated_at": "2026-01-04T00:00:00Z",
        "result": [_choice(["keep"], name="winnow_review")],
    }
    task = _task(annotations=[old, new, only_review])
    assert labels_of(task, CONTROL) == ["dog"] and review_choice(task)[1]["id"] == 4


def test_review_control_is_added_once() -> None:
    plain = (
        '<View><Image name="img" value="$image"/><Choices name="label" toName="img">'
        '<Choice value="cat"/></Choices><!-- keep me --></View>'
    )
    added = with_review_control(plain, "img")
    assert has_review_control(added) and "keep me" in added
    assert with_review_control(added, "img") == added
    assert find_label_control(added).name == "label"


def test_detection_projects_get_box_sanity_findings() -> None:
    import pandas as pd

    from sync.review.audit_project import _box_issues

    boxes_control = find_label_control(
        build_label_config(["cat"], task="detection"), task="detection"
    )
    size = {"original_width": 200, "original_height": 100}
    inside = {"label": "cat", "x": 10, "y": 10, "width": 20, "height": 20, **size}
    outside = {"label": "cat", "x": 90, "y": 90, "width": 30, "height": 30, **size}
    unknown = {**inside, "label": "dragon"}
    table = pd.DataFrame(
        {
            "task_id": [1, 2, 3],
            "uri": ["task:1", "task:2", "task:3"],
            "boxes": [[inside], [outside], [unknown]],
        }
    )
    issues = _box_issues(table, boxes_control)
    assert set(zip(issues["path"], issues["issue_type"], strict=True)) == {
        ("task:2", "box_out_of_bounds"),
        ("task:3", "box_unknown_label"),
    }
    assert _box_issues(table, CONTROL).empty  # a Choices project has no boxes to check
