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
