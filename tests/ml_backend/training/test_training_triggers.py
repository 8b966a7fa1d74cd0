"""Webhook events to training requests."""

from __future__ import annotations

import pytest

from ml_backend.training.triggers import Triggers, event_project


def event(project=4):
    return {"project": {"id": project}, "annotation": {"id": 1}}


def test_every_nth_annotation_triggers_a_run_per_project():
    triggers = Triggers(retrain_every=3, fine_tune=True)
    got = [triggers.on_event("ANNOTATION_CREATED", event()) for _ in range(2)]
    assert got == [None, None] and triggers.pending(4) == 2
    assert triggers.on_event("ANNOTATION_CREATED", event(9)) is None  # another project
    third = triggers.on_event("ANNOTATION_UPDATED", event())
    assert third.fine_tune and third.reasons == ["3 new or updated annotations"]
    assert triggers.pending(4) == 0 and triggers.pending(9) == 1
    bulk = triggers.on_event("ANNOTATIONS_CREATED", {**event(9), "annotation": [{}, {}]})
    assert bulk is not None and bulk.reasons == ["3 new or updated annotations"]


def test_start_training_and_deletions_run_at_once():
    triggers = Triggers(retrain_every=50, fine_tune=True)
    assert triggers.on_event("START_TRAINING", event()).fine_tune
    deleted = triggers.on_event(
        "ANNOTATIONS_DELETED", {"project": {"id": 4}, "annotations": [{"id": 3}]}
    )
    assert deleted is not None and not deleted.fine_tune  # a recount, not a new network
    assert (
        Triggers(retrain_every=1, fine_tune=False).on_event("START_TRAINING", {}).fine_tune is False
    )
    assert triggers.on_event("PROJECT_UPDATED", event()) is None


def test_project_ids_from_payloads():
    assert event_project({"project": {"id": 7}}) == 7
    assert event_project({"project": "12.1700000000"}) == 12
    assert event_project({"task": {"project": 3}}) == 3
    assert event_project({"project": {"id": "x"}}) is None and event_project({}) is None
    with pytest.raises(ValueError):
        Triggers(retrain_every=0, fine_tune=False)


def created(annotation_id, updated_at, project=4):
    return {
        "project": {"id": project},
        "annotation": {"id": annotation_id, "updated_at": updated_at},
    }


def test_a_webhook_delivered_twice_counts_once():
    triggers = Triggers(retrain_every=3, fine_tune=True)
    for k in (1, 2):  # two webhooks on one project: every event arrives twice
        assert (
            triggers.on_event("ANNOTATION_CREATED", created(k, f"2026-01-01T00:00:0{k}Z")) is None
        )
        assert (
            triggers.on_event("ANNOTATION_CREATED", created(k, f"2026-01-01T00:00:0{k}Z")) is None
        )
    assert triggers.pending(4) == 2 and triggers.duplicates == 2
    # a real update of annotation 1 changes updated_at: it counts, and completes the run
    update = triggers.on_event("ANNOTATION_UPDATED", created(1, "2026-01-01T00:05:00Z"))
    assert update is not None and update.reasons == ["3 new or updated annotations"]
    again = triggers.on_event("ANNOTATION_UPDATED", created(1, "2026-01-01T00:05:00Z"))
    assert again is None and triggers.pending(4) == 0
    # the same annotation id in another project is another event
    assert triggers.on_event("ANNOTATION_CREATED", created(1, "2026-01-01T00:00:01Z", 5)) is None
    assert triggers.pending(5) == 1
    bulk = [{"id": 7, "updated_at": "t7"}, {"id": 8, "updated_at": "t8"}]
    triggers.on_event("ANNOTATIONS_CREATED", {"project": {"id": 6}, "annotation": bulk})
    triggers.on_event("ANNOTATIONS_CREATED", {"project": {"id": 6}, "annotation": bulk})
    assert triggers.pending(6) == 2


def test_the_remembered_events_are_bounded():
    triggers = Triggers(retrain_every=100, fine_tune=False, remembered=2)
    for k in range(3):
        triggers.on_event("ANNOTATION_CREATED", created(k, "t"))
    assert len(triggers._seen) == 2  # the oldest was forgotten
    triggers.on_event("ANNOTATION_CREATED", created(0, "t"))  # forgotten: counted again
    assert triggers.pending(4) == 4


def test_every_annotation_triggers_while_the_last_run_found_a_class_short():
    short = {4: True}
    triggers = Triggers(retrain_every=5, fine_tune=True, short=lambda p: short.get(p, False))
    first = triggers.on_event("ANNOTATION_CREATED", created(1, "t1"))
    assert first is not None and first.fine_tune
    assert first.reasons == ["1 new or updated annotations while a class is below min_per_class"]
    assert triggers.on_event("ANNOTATION_CREATED", created(2, "t2")) is not None
    short[4] = False  # the last run trained: back to every retrain_every annotations
    assert triggers.on_event("ANNOTATION_CREATED", created(3, "t3")) is None
    assert triggers.on_event("ANNOTATION_CREATED", created(9, "t9", project=8)) is None
