"""The first trained model must beat zero-shot on the same held-out tasks to replace it; both
scores are recorded for /health and the log."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from ml_backend.service import Plan
from ml_backend.training.candidates import Candidates
from ml_backend.training.registry import ProjectModels
from ml_backend.training.runner import RunOutcome
from ml_backend.training.status import ProjectStatus, health_document
from ml_backend.training.worker import WorkerStatus
from winnow.config import get_settings
from winnow.labelstudio.controls.parse import parse_label_config
from winnow.learn.dataset import LabelledTasks, holdout_mask
from winnow.learn.linear_head import fit_linear_head
from winnow.learn.registry import Baseline, ModelRegistry, TrainedModel

CONFIG = """<View><Image name="image" value="$image"/>
<Choices name="label" toName="image" choice="single">
<Choice value="cat"/><Choice value="dog"/></Choices></View>"""
CLASSES = ("cat", "dog")
ZERO_SHOT = "imagenet-zero-shot-v1"


@pytest.fixture
def candidates(tmp_path):
    settings = get_settings(data_dir=tmp_path / "data", training={"fine_tune": False})
    return Candidates(settings, ModelRegistry(tmp_path / "models"), "emb")


def noisy_tasks(n=40):
    """Labels unrelated to the vectors: a head fitted on them is a coin flip held out."""
    rng = np.random.default_rng(3)
    labels = [[CLASSES[k]] for k in rng.integers(0, 2, n)]
    data = LabelledTasks(list(range(n)), [f"s{i}" for i in range(n)], labels)
    return data, rng.normal(size=(n, 8)).astype(np.float32)


def zero_shot_that(right: bool, data: LabelledTasks, asked: list[str]):
    """A zero-shot stand-in, always right or always wrong, that records what it scored."""
    truth = {s: CLASSES.index(row[0]) for s, row in zip(data.sources, data.labels, strict=True)}

    def probabilities(sources, read):
        asked.extend(sources)
        probs = np.zeros((len(sources), 2))
        for i, s in enumerate(sources):
            probs[i, truth[s] if right else 1 - truth[s]] = 1.0
        return ZERO_SHOT, probs, np.ones(len(sources), bool)

    return probabilities


def plan() -> Plan:
    return Plan(tuple(parse_label_config(CONFIG)), (), ZERO_SHOT, ())


def test_a_first_model_worse_than_zero_shot_is_kept_aside(candidates, caplog):
    data, vectors = noisy_tasks()
    asked: list[str] = []
    control = parse_label_config(CONFIG)[0]
    with caplog.at_level(logging.INFO, logger="ml_backend.training.candidates"):
        decisions = candidates.train(
            1,
            control,
            data,
            vectors,
            fine_tune_asked=False,
            read=bytes,
            zero_shot=zero_shot_that(True, data, asked),
        )
    [(version, decision)] = decisions.items()
    held = holdout_mask(data.task_ids, data.labels, fraction=0.2, seed=0)
    assert asked == [data.sources[i] for i in np.flatnonzero(held)]  # the same held-out tasks
    assert not decision.promoted and decision.current_version == ZERO_SHOT
    assert decision.current_score == 1.0 and decision.candidate_score < 1.0
    assert candidates.registry.current(1) is None  # zero-shot keeps serving
    meta = json.loads((candidates.registry.root / "1" / version / "meta.json").read_text())
    assert meta["decision"]["current_version"] == ZERO_SHOT
    assert meta["decision"]["current_score"] == 1.0
    assert f"is worse than {ZERO_SHOT} (1.000)" in caplog.text

    # what serves and what /health says: zero-shot, with both scores
    status = ProjectStatus(candidates.registry.root)
    models = ProjectModels(candidates.registry, status, min_per_class=1)
    outcome = RunOutcome(1, len(data), {"cat": 20, "dog": 20}, decisions=decisions)
    assert not models.record(outcome, plan()).changed
    assert models.active_model(1, plan()) is None
    idle = WorkerStatus("idle", None, 1, 0, 0)
    health = health_document(idle, status.known(), zero_shot_class="winnow-zero-shot-imagenet")
    assert health["model_class"] == "winnow-zero-shot-imagenet"
    entry = health["projects"]["1"]
    assert entry["version"] == ZERO_SHOT
    assert entry["holdout_scores"] == {version: decision.candidate_score, ZERO_SHOT: 1.0}


def test_a_first_model_not_worse_than_zero_shot_replaces_it(candidates):
    data, vectors = noisy_tasks()
    decisions = candidates.train(
        1,
        parse_label_config(CONFIG)[0],
        data,
        vectors,
        fine_tune_asked=False,
        read=bytes,
        zero_shot=zero_shot_that(False, data, []),
    )
    [(version, decision)] = decisions.items()
    assert decision.promoted and decision.current_score == 0.0
    assert decision.reason.startswith("held-out score") and ZERO_SHOT in decision.reason
    assert candidates.registry.current(1).version == version
    status = ProjectStatus(candidates.registry.root)
    models = ProjectModels(candidates.registry, status, min_per_class=1)
    assert models.record(RunOutcome(1, 40, {"cat": 20, "dog": 20}, decisions=decisions), plan())
    health = health_document(
        WorkerStatus("idle", None, 1, 0, 0), status.known(), zero_shot_class="winnow-zero-shot-x"
    )
    assert health["model_class"] == "winnow-linear-head"
    assert health["models"] == {"1": version}


def test_zero_shot_is_the_rival_when_the_current_model_no_longer_fits(tmp_path):
    registry = ModelRegistry(tmp_path)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 4)).astype(np.float32)
    old = fit_linear_head(x, [["a"], ["b"]] * 3, classes=("a", "b"), multi_label=False)
    registry.save(1, TrainedModel("linear-old", "linear", old, "emb", 6))
    registry.promote(1, "linear-old")
    new = fit_linear_head(x, [["cat"], ["dog"]] * 3, classes=CLASSES, multi_label=False)
    candidate = TrainedModel("linear-new", "linear", new, "emb", 6)
    scores = {"linear-old": None, "linear-new": 0.5}  # the old model has other classes
    decision = registry.consider(
        1,
        candidate,
        lambda m: scores[m.version],
        only_if_not_worse=True,
        baseline=lambda: Baseline(ZERO_SHOT, 0.75),
    )
    assert not decision.promoted and decision.current_version == ZERO_SHOT
    assert registry.current(1).version == "linear-old"
