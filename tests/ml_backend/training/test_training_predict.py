"""Which task field a trained model reads: a non-blank string under the control's data key."""

from __future__ import annotations

from ml_backend.training.predict import task_source


def test_only_a_non_blank_string_is_an_image_reference():
    assert task_source({"data": {"image": "s3://b/k.jpg"}}, "image") == "s3://b/k.jpg"
    assert task_source({"data": {"image": "  "}}, "image") is None
    assert task_source({"data": {"image": 3}}, "image") is None
    assert task_source({"data": {"photo": "a.jpg"}}, "image") is None
    assert task_source({"data": None}, "image") is None
    assert task_source("not a task", "image") is None
