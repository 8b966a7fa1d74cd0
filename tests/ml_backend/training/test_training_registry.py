"""Which model answers a project: the promoted one only while the last run allows it and its
classes match the labeling config; every switch is recorded and persisted."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from ml_backend.service import Plan
from ml_backend.training.registry import ProjectModels, Switch
from ml_backend.training.runner import RunOutcome
from ml_backend.training.status import ProjectStatus
from winnow.labelstudio.controls.parse import parse_label_config
from winnow.learn.linear_head import fit_linear_head
from winnow.learn.registry import ModelRegistry, TrainedModel

CONFIG = """<View><Image name="image" value="$image"/>
<Choices name="label" toName="image" choice="single">{}</Choices></View>"""


def plan_for(*labels, version="zero-shot-v1"):
    choices = "".join(f'<Choice value="{label}"/>' for label in labels)
    controls = tuple(parse_label_config(CONFIG.format(choices)))
    return Plan(controls=controls, heads=(), version=version, warnings=())


@pytest.fixture
def models(tmp_path):
    registry = ModelRegistry(tmp_path)
    rng = np.random.default_rng(0)
    head = fit_linear_head(
        rng.normal(size=(8, 4)).astype(np.float32),
        [["cat"], ["dog"]] * 4,
        classes=("cat", "dog"),
        multi_label=False,
    )
    registry.save(1, TrainedModel("linear-v2", "linear", head, "backbone", 8))
    registry.promote(1, "linear-v2")
    return ProjectModels(registry, ProjectStatus(tmp_path), min_per_class=3)


def test_the_promoted_model_answers_only_after_a_run_that_allows_it(models, tmp_path):
    plan = plan_for("cat", "dog")
    assert models.active_model(1, plan) is None  # no run recorded yet
    assert models.version(1, plan) == "zero-shot-v1"
    switch = models.record(RunOutcome(1, 8, {"cat": 4, "dog": 4}), plan)
    assert switch == Switch("zero-shot-v1", "linear-v2") and switch.changed
    assert models.active_model(1, plan).version == "linear-v2"
    assert models.active_model(None, plan) is None
    assert models.version(1, plan_for("cat", "dog", "bird")) == "zero-shot-v1"  # other classes
    saved = json.loads((tmp_path / "1" / "status.json").read_text())
    assert saved == {
        "trained": True,
        "counts": {"cat": 4, "dog": 4},
        "dropped": {},
        "n_annotations": 8,
        "short": [],
        "fine_tune": None,
        "decisions": {},
        "unsupported": None,
        "data_key": None,
        "unchanged": None,
        "version": "linear-v2",
        "model_class": "winnow-linear-head",
    }


def test_a_short_class_falls_back_to_zero_shot_with_the_reason(models, caplog):
    plan = plan_for("cat", "dog")
    models.record(RunOutcome(1, 8, {"cat": 4, "dog": 4}), plan)
    with caplog.at_level(logging.WARNING, logger="ml_backend.training.registry"):
        switch = models.record(RunOutcome(1, 5, {"cat": 4, "dog": 1}, short=["dog"]), plan)
    assert switch == Switch("linear-v2", "zero-shot-v1")
    assert models.active_model(1, plan) is None
    assert "serving zero-shot zero-shot-v1: classes ['dog'] have fewer than 3" in caplog.text
    again = models.record(RunOutcome(1, 5, {"cat": 4, "dog": 1}, short=["dog"]), plan)
    assert not again.changed
