"""The multi-label uncertainty score: per-class binary scores reduced over classes, and
``winnow rank`` ordering multiple-choice tasks by it (low score = most informative)."""

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from analysis.uncertainty import DEFAULT_REDUCTION, METHODS, REDUCTIONS, uncertainty_score
from ml_backend.rank import Checkpoint, rank_project
from ml_backend.training.predict import TrainedPredictor
from winnow.labelstudio.controls.choices import ChoiceClass, ChoicesControl

multi_probs = arrays(
    np.float64, st.tuples(st.integers(1, 12), st.integers(1, 8)), elements=st.floats(0.0, 1.0)
)


def direct(probs: np.ndarray, method: str, reduce: str) -> np.ndarray:
    """The score written out in numpy, independently of the module's code path."""
    p = np.asarray(probs, dtype=np.float64)
    if method == "entropy":
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -(
                np.where(p > 0, p * np.log2(p), 0.0)
                + np.where(p < 1, (1 - p) * np.log2(1 - p), 0.0)
            )
        per_class = 1.0 - h
    else:  # margin and least confidence coincide for a binary decision
        per_class = np.abs(2 * p - 1)
    return per_class.min(axis=1) if reduce == "min" else per_class.mean(axis=1)


@settings(max_examples=150, deadline=None)
@given(multi_probs, st.sampled_from(METHODS), st.sampled_from(REDUCTIONS))
def test_matches_a_direct_numpy_computation(probs: np.ndarray, method: str, reduce: str) -> None:
    got = uncertainty_score(probs, method, multi_label=True, reduce=reduce)
    np.testing.assert_allclose(got, np.clip(direct(probs, method, reduce), 0, 1), atol=1e-9)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("reduce", REDUCTIONS)
@pytest.mark.parametrize("k", [1, 3, 10])
def test_most_uncertain_at_one_half_for_every_class(method: str, reduce: str, k: int) -> None:
    """All classes at 0.5 is the most informative row (score 0); confident rows score ~1."""
    rng = np.random.default_rng(k)
    half = np.full((1, k), 0.5)
    confident = np.where(rng.random((4, k)) < 0.5, 1e-4, 1 - 1e-4)
    anywhere = rng.random((50, k))
    s_half = uncertainty_score(half, method, multi_label=True, reduce=reduce)
    s_conf = uncertainty_score(confident, method, multi_label=True, reduce=reduce)
    s_any = uncertainty_score(anywhere, method, multi_label=True, reduce=reduce)
    assert s_half == pytest.approx([0.0], abs=1e-12)
    assert np.all(s_conf > 0.99)
    assert np.all(s_any >= s_half[0])


@pytest.mark.parametrize("method", METHODS)
def test_moving_one_class_towards_one_half_lowers_the_mean_score(method: str) -> None:
    """Every class counts under ``mean``; only the worst class counts under ``min``."""
    base = np.array([[0.95, 0.05, 0.9]])
    nearer = np.array([[0.95, 0.3, 0.9]])
    mean = [
        uncertainty_score(p, method, multi_label=True, reduce="mean")[0] for p in (base, nearer)
    ]
    assert mean[1] < mean[0]
    worst = np.array([[0.5, 0.05, 0.9]])
    worse_elsewhere = np.array([[0.5, 0.3, 0.9]])
    mins = [
        uncertainty_score(p, method, multi_label=True, reduce="min")[0]
        for p in (worst, worse_elsewhere)
    ]
    assert mins[0] == pytest.approx(mins[1])


def test_default_reduction_is_the_documented_one() -> None:
    probs = np.array([[0.9, 0.6, 0.1], [0.5, 0.99, 0.01]])
    np.testing.assert_array_equal(
        uncertainty_score(probs, multi_label=True),
        uncertainty_score(probs, multi_label=True, reduce=DEFAULT_REDUCTION),
    )


def test_unknown_reduction_is_refused() -> None:
    with pytest.raises(ValueError, match="reduce"):
        uncertainty_score(np.array([[0.5]]), multi_label=True, reduce="max")


# --- winnow rank on a multiple-choice project -------------------------------------------------

CLASSES = ("bag", "boot", "shirt")
PROBS = {  # task id -> one-vs-rest probabilities; no row sums to 1
    1: [0.99, 0.01, 0.98],  # confident
    2: [0.5, 0.5, 0.5],  # unsure about everything
    3: [0.6, 0.05, 0.97],  # unsure about one class
    4: [0.7, 0.4, 0.2],  # mildly unsure about all
    5: [0.0, 1.0, 1.0],  # certain
}


class FakeClient:
    """The few Label Studio SDK calls ``rank_project`` makes."""

    def __init__(self) -> None:
        self.uploads: list[dict[str, Any]] = []
        self.tasks = SimpleNamespace(list=self._tasks)
        self.projects = SimpleNamespace(import_predictions=self._upload)
        self.views = SimpleNamespace(
            list=lambda project: [], create=lambda project, data: SimpleNamespace(id=7)
        )

    def _tasks(self, **_: Any) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(id=i, annotations=[], predictions=[], data={"image": f"img-{i}"})
            for i in PROBS
        ]

    def _upload(self, id: int, request: list[dict[str, Any]]) -> None:
        self.uploads.extend(request)


def test_rank_orders_multi_label_tasks_by_the_score(tmp_path: Path) -> None:
    control = ChoicesControl(
        from_name="tags",
        to_name="image",
        data_key="image",
        multiple=True,
        classes=tuple(ChoiceClass(c, (c,)) for c in CLASSES),
    )
    # the trained head's probabilities stand in for embeddings: predict_proba is the identity
    model = SimpleNamespace(network=None, multi_label=True, predict_proba_vectors=lambda v: v)
    cache = SimpleNamespace(
        embed_sources=lambda sources, read: SimpleNamespace(
            vectors=np.array([PROBS[int(s.split("-")[1])] for s in sources]), errors={}
        )
    )
    settings_ = SimpleNamespace(
        training=SimpleNamespace(uncertainty="margin"), backend=SimpleNamespace(multi_threshold=0.5)
    )
    predictor = TrainedPredictor(settings_, cache)

    def scorer(tasks: list[dict[str, Any]]) -> tuple[str, list]:
        return "v1", predictor.predict(model, control, tasks, read=None)

    client = FakeClient()
    report = rank_project(client, 3, scorer, "v1", Checkpoint(tmp_path, 3), chunk_size=2)
    assert report.scored == len(PROBS)

    scores = {u["task"]: u["score"] for u in client.uploads}
    ids = sorted(PROBS)
    expected = uncertainty_score(np.array([PROBS[i] for i in ids]), "margin", multi_label=True)
    np.testing.assert_allclose([scores[i] for i in ids], expected, atol=1e-6)
    # the View sorts ascending: everything-unsure first, certain last
    queue = sorted(scores, key=scores.get)
    assert queue[0] == 2 and queue[-1] in {1, 5}
    assert queue.index(3) < queue.index(1)
