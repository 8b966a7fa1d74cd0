"""Annotations to training rows: what is dropped (and counted), and the held-out split."""

from __future__ import annotations

import numpy as np

from winnow.learn.dataset import (
    below_minimum,
    class_counts,
    holdout_mask,
    labelled_tasks,
    latest_annotation,
)

CLASSES = ["cat", "dog", "bird"]


def task(task_id, *choices, cancelled=False, image="/data/upload/x.jpg", updated="2026-01-01"):
    result = (
        [
            {
                "from_name": "label",
                "to_name": "image",
                "type": "choices",
                "value": {"choices": list(choices)},
            }
        ]
        if choices
        else []
    )
    annotation = {
        "id": task_id,
        "result": result,
        "was_cancelled": cancelled,
        "updated_at": updated,
    }
    return {"id": task_id, "data": {"image": image}, "annotations": [annotation]}


def rows(tasks, multi_label=False):
    return labelled_tasks(
        tasks, from_name="label", data_key="image", classes=CLASSES, multi_label=multi_label
    )


def test_unusable_annotations_are_dropped_and_counted():
    found = rows(
        [
            task(1, "cat"),
            task(2, "dog"),
            task(3, "lion"),  # not in the config
            task(4),
            task(5, "cat", cancelled=True),
            task(6, "cat", "dog"),
            task(7, "bird", image=""),
            {"id": 8, "data": {"image": "x"}, "annotations": []},
        ]
    )
    assert found.task_ids == [1, 2] and found.labels == [["cat"], ["dog"]]
    assert found.dropped == {
        "unknown_label": 1,
        "no_choice": 1,
        "several_choices": 1,
        "no_image": 1,
    }
    fewer = found.without([0], "unreadable")
    assert fewer.task_ids == [2] and fewer.dropped["unreadable"] == 1
    assert found.without([], "unreadable").dropped == found.dropped


def test_multi_label_keeps_several_choices_in_config_order():
    found = rows([task(1, "bird", "cat"), task(2, "cat", "wolf")], multi_label=True)
    assert found.labels == [["cat", "bird"]] and found.dropped == {"unknown_label": 1}


def test_the_latest_annotation_that_was_not_skipped_counts():
    old = {"id": 1, "updated_at": "2026-01-01", "result": []}
    new = {"id": 2, "updated_at": "2026-02-01", "result": []}
    skipped = {"id": 3, "updated_at": "2026-03-01", "was_cancelled": True}
    assert latest_annotation([new, old, skipped]) is new
    assert latest_annotation([skipped]) is None


def test_counts_and_minimum():
    counts = class_counts([["cat"], ["cat"], ["dog"]], CLASSES)
    assert counts == {"cat": 2, "dog": 1, "bird": 0}
    assert below_minimum(counts, 2) == ["dog", "bird"] and below_minimum(counts, 1) == ["bird"]


def test_holdout_is_stable_per_task_and_never_takes_a_single_example():
    ids = list(range(100, 300))
    labels = [["cat"] if i % 2 else ["dog"] for i in ids]
    labels[0] = ["bird"]  # the only bird
    held = holdout_mask(ids, labels, fraction=0.3, seed=0)
    assert 0.2 < held.mean() < 0.4 and not held[0]
    # more annotations later: the tasks seen before keep their side
    more = holdout_mask([*ids, 301, 302], [*labels, ["cat"], ["dog"]], fraction=0.3, seed=0)
    assert np.array_equal(more[: len(ids)], held)
    assert not np.array_equal(holdout_mask(ids, labels, fraction=0.3, seed=1), held)


def test_every_class_keeps_a_training_example():
    ids, labels = list(range(40)), [["cat"], ["cat"]] * 20
    for fraction in (0.5, 0.89):
        held = holdout_mask(ids[:2], labels[:2], fraction=fraction, seed=3)
        assert not held.all()
    held = holdout_mask([7, 8], [["cat"], ["cat"]], fraction=0.89, seed=0)
    assert held.sum() <= 1
