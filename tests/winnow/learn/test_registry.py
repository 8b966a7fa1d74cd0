"""Model versions, saving and loading, and the promotion rule on a shared held-out split."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pytest

from winnow.learn.evaluate import holdout_score
from winnow.learn.linear_head import fit_linear_head
from winnow.learn.registry import ModelRegistry, TrainedModel, make_version, should_replace

CLASSES = ["a", "b"]


def model(version, vectors, labels, *, n=None):
    head = fit_linear_head(vectors, labels, classes=CLASSES, multi_label=False)
    return TrainedModel(version, "linear", head, "emb@1", n or len(labels))


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(-1, 0.7, (40, 4)), rng.normal(1, 0.7, (40, 4))])
    y = [["a"]] * 40 + [["b"]] * 40
    return x, y


def test_version_pattern():
    now = datetime(2026, 11, 22, 6, 30, 5, tzinfo=UTC)
    assert make_version("fastai", "efficientnet_lite0", 12, now) == (
        "fastai-efficientnet_lite0@12-20261122T063005"
    )
    linear = make_version("linear", "efficientnet_lite0@imagenet", 3)
    assert re.fullmatch(r"linear-efficientnet_lite0-imagenet@3-\d{8}T\d{6}", linear)


def test_should_replace():
    assert should_replace(0.8, None) and should_replace(None, 0.9)
    assert should_replace(0.8, 0.8) and not should_replace(0.79, 0.8)
    assert should_replace(0.1, 0.8, only_if_not_worse=False)


def test_worse_model_is_saved_but_not_promoted(tmp_path, blobs):
    x, y = blobs
    registry = ModelRegistry(tmp_path)
    assert registry.current(7) is None
    held = np.arange(0, 80, 5)

    def evaluate(m):
        probs = m.predict_proba_vectors(x[held])
        return holdout_score(probs, [y[i] for i in held], CLASSES, multi_label=False)

    good = model("linear-emb@80-1", x, y)
    first = registry.consider(7, good, evaluate, only_if_not_worse=True)
    assert first.promoted and first.reason == "first model" and first.current_score is None
    flipped = [["b"] if r == ["a"] else ["a"] for r in y]  # learns the opposite
    bad = model("linear-emb@80-2", x, flipped)
    second = registry.consider(7, bad, evaluate, only_if_not_worse=True)
    assert not second.promoted and second.candidate_score < second.current_score
    assert registry.current(7).version == good.version
    assert registry.versions(7) == ["linear-emb@80-1", "linear-emb@80-2"]
    # the rule switched off: the newer model wins regardless
    worse = model("linear-emb@80-3", x, flipped)
    assert registry.consider(7, worse, evaluate, only_if_not_worse=False).promoted
    assert registry.current(7).version == "linear-emb@80-3"


def test_saved_models_load_with_the_same_predictions(tmp_path, blobs):
    x, y = blobs
    saved = ModelRegistry(tmp_path).save(3, model("linear-emb@80-9", x, y))
    ModelRegistry(tmp_path).promote(3, saved.version)
    loaded = ModelRegistry(tmp_path).current(3)
    assert loaded.version == saved.version and loaded.classes == ("a", "b")
    assert loaded.n_annotations == 80 and loaded.network is None
    np.testing.assert_allclose(loaded.predict_proba_vectors(x), saved.predict_proba_vectors(x))
    with pytest.raises(ValueError, match="linear head"):
        loaded.predict_proba_images([])
    with pytest.raises(FileExistsError):
        ModelRegistry(tmp_path).save(3, model("linear-emb@80-9", x, y))
    with pytest.raises(FileNotFoundError):
        ModelRegistry(tmp_path).promote(3, "nope")


def test_holdout_score_multi_label_is_micro_f1():
    probs = np.array([[0.9, 0.8], [0.2, 0.6]])
    assert holdout_score(probs, [["a", "b"], ["a"]], CLASSES, multi_label=True) == pytest.approx(
        2 * 2 / (3 + 3)
    )
    assert holdout_score(np.zeros((0, 2)), [], CLASSES, multi_label=False) is None
