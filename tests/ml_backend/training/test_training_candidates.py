"""A run's candidates: the linear head is offered with its split sizes, and a version stamp
already taken moves along instead of overwriting a saved model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ml_backend.training.candidates import Candidates
from winnow.config import get_settings
from winnow.labelstudio.controls.parse import parse_label_config
from winnow.learn.dataset import LabelledTasks
from winnow.learn.registry import ModelRegistry, make_version

CONFIG = """<View><Image name="image" value="$image"/>
<Choices name="label" toName="image" choice="single">
<Choice value="cat"/><Choice value="dog"/></Choices></View>"""


@pytest.fixture
def candidates(tmp_path):
    settings = get_settings(data_dir=tmp_path / "data", training={"fine_tune": False})
    return Candidates(settings, ModelRegistry(tmp_path / "models"), "emb")


def two_clusters(n_per_class=10):
    rng = np.random.default_rng(0)
    centres = {"cat": np.full(8, 3.0), "dog": np.full(8, -3.0)}
    labels = [label for label in centres for _ in range(n_per_class)]
    vectors = np.stack([centres[label] + rng.normal(size=8) for label in labels])
    ids = list(range(len(labels)))
    data = LabelledTasks(ids, [f"s{i}" for i in ids], [[label] for label in labels])
    return data, vectors.astype(np.float32)


def test_the_first_linear_head_is_promoted_with_its_split_sizes(candidates):
    data, vectors = two_clusters()
    control = parse_label_config(CONFIG)[0]
    unread = []
    decisions = candidates.train(
        1, control, data, vectors, fine_tune_asked=True, read=lambda s: unread.append(s) or b""
    )
    [(version, decision)] = decisions.items()  # fine_tune is off in the settings
    assert version.startswith("linear-emb@20-") and decision.promoted
    model = candidates.registry.current(1)
    assert model.version == version and model.classes == ("cat", "dog")
    assert model.metrics["train_size"] + model.metrics["holdout_size"] == 20
    assert model.metrics["holdout_size"] > 0 and model.metrics["holdout_score"] == 1.0
    assert unread == []  # a linear head is scored on the cached vectors, never on images


def test_a_taken_version_stamp_moves_along(candidates):
    start = datetime.now(UTC).replace(microsecond=0)
    for k in range(-2, 31):
        taken = make_version("linear", "emb", 5, start + timedelta(seconds=k))
        folder = candidates.registry.root / "1" / taken
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text("{}")
    fresh = candidates.new_version(1, "linear", "emb", 5)
    assert fresh == make_version("linear", "emb", 5, start + timedelta(seconds=31))
    assert candidates.new_version(2, "linear", "emb", 5) != fresh  # another project: no clash
