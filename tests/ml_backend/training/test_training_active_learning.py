"""Active learning in-process: bad input, the switch to a trained model, and a crashing run.

Label Studio is replaced by a small stand-in at the network boundary (its SDK client);
images are real photos read from disk and embedded by the real offline backbone.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from skimage import data

from analysis.uncertainty import uncertainty_score
from ml_backend.service import PredictionService
from ml_backend.training.active_learning import ActiveLearning
from ml_backend.training.images import load_images
from winnow.config import get_settings
from winnow.store import FeatureStore

CONFIG = """<View><Image name="image" value="$image"/>
<Choices name="label" toName="image" choice="single">
<Choice value="cat"/><Choice value="coffee" predicted_values="espresso"/><Choice value="person"/>
</Choices></View>"""


class FakeLabelStudio:
    """The few SDK calls a run makes (tasks, config, renaming our backend), from memory."""

    def __init__(self, tasks, zero_shot_version):
        self.task_rows = tasks
        self.project = SimpleNamespace(label_config=CONFIG, model_version=zero_shot_version)
        self.backend = SimpleNamespace(
            id=1, title=zero_shot_version, url="http://backend", model_version=zero_shot_version
        )
        self.projects = SimpleNamespace(get=lambda project: self.project, update=self._update)
        self.tasks = SimpleNamespace(list=lambda **kw: [SimpleNamespace(**t) for t in tasks])
        self.ml = SimpleNamespace(list=lambda project: [self.backend], update=self._rename)

    def _rename(self, backend_id, *, title, **fields):
        self.backend.title = self.backend.model_version = self.project.model_version = title

    def _update(self, project, *, model_version):
        self.project.model_version = model_version


def annotated(task_id, path, label):
    result = [
        {"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [label]}}
    ]
    return {
        "id": task_id,
        "data": {"image": str(path)},
        "annotations": [{"id": task_id, "result": result, "was_cancelled": False}],
    }


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    paths = {}
    for label, photo in (("cat", "chelsea"), ("coffee", "coffee")):
        pixels = getattr(data, photo)()
        for k in range(5):
            crop = pixels[k * 20 : k * 20 + 300, k * 25 : k * 25 + 380]
            Image.fromarray(crop[:, ::-1] if k % 2 else crop).save(folder / f"{label}{k}.jpg")
            paths.setdefault(label, []).append(folder / f"{label}{k}.jpg")
    Image.fromarray(data.astronaut()).save(folder / "person0.jpg")
    paths["person"] = [folder / "person0.jpg"]
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a JPEG")
    return folder, paths


@pytest.fixture
def learning(request, tmp_path, photos, imagenet_predictor):
    """Active learning over 11 annotated tasks; ``indirect`` params override training keys."""
    folder, paths = photos
    training = {"min_per_class": 1, "fine_tune": False, **getattr(request, "param", {})}
    settings = get_settings(
        data_dir=tmp_path / "data",
        io={"local_roots": [folder]},
        backend={"sync_model_version": False},
        detection={"backend": "haar"},  # offline: detection configs get a plan
        training=training,
    )
    tasks = [annotated(i, p, "cat") for i, p in enumerate(paths["cat"][:4])]
    tasks += [annotated(10 + i, p, "coffee") for i, p in enumerate(paths["coffee"][:4])]
    tasks += [
        annotated(20, paths["person"][0], "person"),  # the only person: never held out
        annotated(21, paths["cat"][0], "lion"),  # not in the config
        annotated(22, folder / "broken.jpg", "cat"),
    ]  # unreadable
    store = FeatureStore(settings.store_path)
    service = PredictionService(settings, imagenet_predictor, store)
    client = FakeLabelStudio(tasks, service.plan(CONFIG).version)
    al = ActiveLearning(settings, service, service.metrics, client_for=lambda project: client)
    al.fake = client
    yield al
    al.close()
    service.close()
    store.close()


def train(al, project=1):
    al.on_webhook("START_TRAINING", {"project": {"id": project}})
    assert al.worker.wait_idle(120)


def test_bad_input_is_counted_and_the_trained_model_serves(learning, photos):
    folder, paths = photos
    plan = learning.service.plan(CONFIG)
    assert learning.predict(1, plan, [], label_studio=None) is None  # zero-shot before
    train(learning)
    status = learning.project_status(1)
    assert status["dropped"] == {"unknown_label": 1, "unreadable": 1}
    assert status["counts"] == {"cat": 4, "coffee": 4, "person": 1} and status["trained"]
    model = learning.registry.current(1)
    assert model.version.startswith("linear-efficientnet_lite0-imagenet@9-")
    assert learning.version(1, plan) == model.version
    unseen = [
        {"id": 1, "data": {"image": str(paths["cat"][4])}},
        {"id": 2, "data": {"image": str(paths["coffee"][4])}},
        {"id": 3, "data": {"image": str(folder / "broken.jpg")}},
    ]
    version, outcomes = learning.predict(1, plan, unseen, label_studio=None)
    assert version == model.version
    assert [o.result[0]["value"]["choices"] for o in outcomes[:2]] == [["cat"], ["coffee"]]
    assert outcomes[2].result is None and outcomes[2].error.startswith("truncated")
    read = lambda s: learning.service.read_source(s)  # noqa: E731
    vectors = learning.cache.embed_sources([t["data"]["image"] for t in unseen[:2]], read)
    probs = model.predict_proba_vectors(vectors.vectors)
    np.testing.assert_allclose(
        [o.score for o in outcomes[:2]], uncertainty_score(probs, "margin"), atol=1e-6
    )
    health = learning.health("winnow-zero-shot-imagenet")
    assert health["model_class"] == "winnow-linear-head"  # what serves, not zero-shot
    assert health["training"] == "idle" and health["training_error"] is None
    assert health["models"] == {"1": model.version}
    # the first model's rival is zero-shot; these 9 task ids put none on the held-out side
    assert health["projects"]["1"]["holdout_scores"] == {model.version: None, plan.version: None}
    assert health["projects"]["1"]["decisions"] == [
        f"no held-out examples to compare with {plan.version} on"
    ]
    assert learning.fake.project.model_version == model.version  # Label Studio moved along
    # one more annotation: a newer model that is not worse takes over, Label Studio follows
    learning.fake.task_rows.append(annotated(30, paths["cat"][4], "cat"))
    train(learning)
    newer = learning.registry.current(1)
    assert newer.version.startswith("linear-efficientnet_lite0-imagenet@10-")
    assert learning.fake.project.model_version == newer.version == learning.version(1, plan)


def test_a_run_over_the_annotations_the_model_saw_trains_nothing(learning, caplog):
    """Webhooks that arrive while a run reads Label Studio queue a run over the same
    annotations; it must not replace the serving model with its twin."""
    train(learning)
    serving = learning.registry.current(1).version
    before = learning.health("winnow-zero-shot-imagenet")["projects"]["1"]
    with caplog.at_level(logging.INFO, logger="ml_backend.training.runner"):
        train(learning)
    assert learning.registry.versions(1) == [serving]
    why = f"the 9 usable annotations are those the last run trained on ({serving} serves)"
    assert learning.project_status(1)["unchanged"] == why and why in caplog.text
    after = learning.health("winnow-zero-shot-imagenet")["projects"]["1"]
    assert after == {**before, "unchanged": why}  # the scores that chose the model stay
    # one relabelled task is new data: the next run trains and the note goes
    learning.fake.task_rows[0]["annotations"][0]["result"][0]["value"]["choices"] = ["coffee"]
    train(learning)
    assert len(learning.registry.versions(1)) == 2
    assert learning.project_status(1)["counts"] == {"cat": 3, "coffee": 5, "person": 1}
    assert "unchanged" not in learning.health("winnow-zero-shot-imagenet")["projects"]["1"]


def test_a_crashing_run_keeps_the_current_model(learning):
    train(learning)
    serving = learning.registry.current(1).version

    def broken(project):
        raise ConnectionError("Label Studio went away")

    learning.fake.projects = SimpleNamespace(get=broken)
    train(learning)
    health = learning.health("winnow-zero-shot-imagenet")
    assert health["training"] == "failed"
    assert health["training_error"] == "the last training run of project 1 failed; see the log"
    assert "Label Studio went away" in learning.worker.status().last_error  # the log's detail
    assert learning.metrics.value("winnow_backend_training_runs", outcome="failed") == 1
    assert learning.version(1, learning.service.plan(CONFIG)) == serving


def test_too_few_annotations_fall_back_to_zero_shot_with_the_reason(learning, caplog):
    train(learning)
    plan = learning.service.plan(CONFIG)
    assert learning.version(1, plan) != plan.version
    learning.fake.task_rows[:] = [t for t in learning.fake.task_rows if t["id"] != 20]
    with caplog.at_level(logging.WARNING, logger="ml_backend.training.registry"):
        learning.on_webhook("ANNOTATIONS_DELETED", {"project": {"id": 1}, "annotations": [{}]})
        assert learning.worker.wait_idle(60)
    assert learning.version(1, plan) == plan.version
    assert learning.fake.project.model_version == plan.version
    assert learning.predict(1, plan, [], label_studio=None) is None
    assert "serving zero-shot" in caplog.text and "['person'] have fewer than 1" in caplog.text


FINE_TUNE = {
    "fine_tune": True,
    "fine_tune_min_images": 2,
    "fine_tune_min_steps": 4,
    "epochs": 1,
    "image_size": 64,
    "replace_only_if_not_worse": False,
}


@pytest.mark.parametrize("learning", [FINE_TUNE], indirect=True)
def test_the_fine_tuned_network_serves_from_images(learning, photos):
    folder, paths = photos
    train(learning)
    versions = learning.registry.versions(1)
    assert [v.split("@")[0] for v in versions] == [
        "fastai-efficientnet_lite0",
        "linear-efficientnet_lite0-imagenet",
    ]
    model = learning.registry.current(1)  # the rule is off: the later (fastai) model serves
    assert model.kind == "fastai" and model.network is not None
    assert model.network.image_size == 64 and model.classes == ("cat", "coffee", "person")
    plan = learning.service.plan(CONFIG)
    tasks = [
        {"id": 1, "data": {"image": str(paths["cat"][4])}},
        {"id": 2, "data": {"image": str(folder / "broken.jpg")}},
    ]
    version, outcomes = learning.predict(1, plan, tasks, label_studio=None)
    assert version == model.version and outcomes[1].error.startswith("truncated")
    # decoded as serving decodes (JPEG draft mode at the network's input size)
    images, _ = load_images(
        [str(paths["cat"][4])], learning.service.read_source, max_pixels=10**8, min_side=64
    )
    probs = model.predict_proba_images([images[0]])
    assert outcomes[0].score == pytest.approx(
        float(uncertainty_score(probs, "margin")[0]), abs=1e-5
    )


@pytest.mark.parametrize(
    "learning", [{"fine_tune": True, "fine_tune_min_images": 10}], indirect=True
)
def test_below_the_minimum_the_fine_tune_is_skipped_and_health_says_so(learning):
    train(learning)  # 9 usable annotations, the minimum is 10
    assert [v.split("@")[0] for v in learning.registry.versions(1)] == [
        "linear-efficientnet_lite0-imagenet"
    ]
    entry = learning.health("winnow-zero-shot-imagenet")["projects"]["1"]
    assert entry["fine_tune"].startswith(
        "skipped: 9 labelled images, below training.fine_tune_min_images (10)"
    )


BOXES = """<View><Image name="image" value="$image"/>
<RectangleLabels name="box" toName="image"><Label value="cat"/></RectangleLabels></View>"""


def test_a_detection_project_stays_on_zero_shot_and_health_says_why(learning):
    learning.fake.project.label_config = BOXES
    train(learning)
    health = learning.health("winnow-zero-shot-imagenet")
    assert health["training"] == "idle" and health["training_error"] is None  # not a failure
    entry = health["projects"]["1"]
    assert entry["unsupported"].startswith("detection controls (<RectangleLabels>")
    assert entry["model_class"] == "winnow-zero-shot-imagenet"
    assert learning.registry.versions(1) == []
    # a later annotation does not start a run at once: nothing is "short" here
    assert not learning.is_short(1)
