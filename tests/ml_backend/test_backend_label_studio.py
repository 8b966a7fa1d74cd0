"""The ML backend against a real Label Studio 1.23: connect, retrieve predictions, sort.

Label Studio runs from its own virtualenv (session fixture); the backend runs in a thread
with the real offline ImageNet weights, reading the photos back from Label Studio's
local-files storage with the API key, as it would in production.
"""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest
from label_studio_sdk import LabelStudio as LSClient
from label_studio_sdk.core.api_error import ApiError

from ml_backend.connect import connect_backend
from ml_backend.predict import predict_project
from ml_backend.server import BackendServer
from ml_backend.service import PredictionService
from winnow.config import LabelStudioSettings, Settings, get_settings
from winnow.services import LabelStudio
from winnow.store import FeatureStore
from winnow.zeroshot import make_predictor

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image" choice="single">
    <Choice value="cat"/>
    <Choice value="coffee" predicted_values="espresso,cup,coffee mug"/>
    <Choice value="other"/>
  </Choices>
</View>"""
PRIVATE_URL = "http://10.255.255.1/cat.jpg"


@pytest.fixture(scope="module")
def settings(
    tmp_path_factory: pytest.TempPathFactory, ls_settings: LabelStudioSettings
) -> Settings:
    return get_settings(
        data_dir=tmp_path_factory.mktemp("backend-store"),
        label_studio=ls_settings,
    )


@pytest.fixture(scope="module")
def client(label_studio: LabelStudio) -> LSClient:
    return LSClient(base_url=label_studio.url, api_key=label_studio.api_key)


@pytest.fixture(scope="module")
def backend(settings: Settings):
    with BackendServer(settings) as server:
        yield server


@pytest.fixture(scope="module")
def photo_urls(ls_files_root: Path, real_images_dir: Path) -> list[str]:
    """Real photos in Label Studio's local-files root, plus a file that is not an image."""
    folder = ls_files_root / f"backend-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    for path in sorted(real_images_dir.iterdir()):
        shutil.copy(path, folder / path.name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    return [f"/data/local-files/?d={folder.name}/{p.name}" for p in sorted(folder.iterdir())]


def make_project(client: LSClient, urls: list[str], folder_root: Path, title: str) -> int:
    """Step 1: an image-classification project whose tasks are local files (and one URL)."""
    project = client.projects.create(title=title, label_config=LABEL_CONFIG)
    folder = folder_root / urls[0].split("?d=", 1)[1].split("/", 1)[0]
    client.import_storage.local.create(project=project.id, path=str(folder), use_blob_urls=True)
    client.projects.import_tasks(
        id=project.id, request=[{"image": u} for u in [*urls, PRIVATE_URL]]
    )
    return project.id


def wait_for(check, timeout_s: float = 60.0):
    deadline = time.monotonic() + timeout_s
    while (value := check()) is None or value is False:
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.5)
    return value


def tasks_of(client: LSClient, project: int, **kwargs) -> list:
    return list(client.tasks.list(project=project, fields="all", **kwargs))


def test_label_studio_pre_annotates_and_sorts_by_score(
    client, backend, photo_urls, ls_files_root, caplog
):
    project = make_project(client, photo_urls, ls_files_root, "backend e2e")
    # Step 2: connect the way a user does in the UI, with a title of their own.
    ml = client.ml.create(url=backend.url, project=project, title="Winnow")
    version = client.ml.get(ml.id).model_version
    assert version.startswith("imagenet-efficientnet_lite0-imagenet@")
    # The backend renames itself to its version, and Label Studio moves the project along.
    wait_for(lambda: client.projects.get(project).model_version == version)
    assert client.ml.get(ml.id).title == version

    # Step 3: "Retrieve predictions" on every task.
    with caplog.at_level(logging.WARNING, logger="ml_backend.service"):
        client.actions.create(id="retrieve_tasks_predictions", project=project)

    # Step 4: every readable task has one prediction with a score and our version.
    tasks = {t.data["image"]: t for t in tasks_of(client, project)}
    assert len(tasks) == len(photo_urls) + 1
    unreadable = {u for u in photo_urls if u.endswith("broken.jpg")} | {PRIVATE_URL}
    for url, task in tasks.items():
        if url in unreadable:
            assert task.predictions == [], url
            continue
        [prediction] = task.predictions
        assert prediction.model_version == version
        assert 0.0 < prediction.score <= 1.0
        assert prediction.result[0]["value"]["choices"][0] in {"cat", "coffee", "other"}
        assert task.predictions_score == pytest.approx(prediction.score)
    labels = {
        u.rsplit("/", 1)[1]: t.predictions[0].result[0]["value"]["choices"][0]
        for u, t in tasks.items()
        if t.predictions
    }
    assert labels["chelsea.png"] == "cat" and labels["coffee.jpg"] == "coffee"
    broken = next(u for u in unreadable if u.endswith("broken.jpg"))
    assert f"no prediction for {broken}: truncated:" in caplog.text
    assert f"no prediction for {PRIVATE_URL}: blocked_source: host '10.255.255.1'" in caplog.text

    # Step 5: a view sorted by prediction score lists the tasks in score order.
    view = client.views.create(
        project=project, data={"title": "by score", "ordering": ["-tasks:predictions_score"]}
    )
    ordered = [t.predictions_score for t in tasks_of(client, project, view=view.id)]
    scored = [s for s in ordered if s is not None]
    assert len(scored) == len(tasks) - len(unreadable)
    assert scored == sorted(scored, reverse=True)
    assert len(set(scored)) > 3  # real, distinct scores, not a constant


def test_unsupported_config_is_refused_clearly(client, backend):
    text_only = client.projects.create(
        title="text only",
        label_config='<View><Text name="t" value="$t"/><Choices name="c" toName="t">'
        '<Choice value="pos"/></Choices></View>',
    )
    with pytest.raises(ApiError) as caught:
        client.ml.create(url=backend.url, project=text_only.id, title="Winnow")
    assert caught.value.status_code == 400
    assert "valid ML backend" in str(caught.value.body)
    direct = httpx.post(
        f"{backend.url}/setup", json={"schema": text_only.label_config}, trust_env=False
    )
    assert direct.status_code == 400
    assert direct.json()["kind"] == "label_config"
    assert "<Image>" in direct.json()["error"] and "Traceback" not in direct.text


def test_winnow_predict_resumes_and_syncs_the_version(
    client, settings, backend, photo_urls, ls_files_root
):
    project = make_project(client, photo_urls, ls_files_root, "batch predict")
    with FeatureStore(settings.store_path) as store:
        service = PredictionService(settings, make_predictor(settings), store)
        try:
            first = predict_project(client, project, service, chunk_size=3)
            assert first.predicted == len(photo_urls) - 1
            assert sum(first.failed.values()) == 2  # broken.jpg and the private URL
            assert first.sync is not None and first.sync.in_sync
            assert client.projects.get(project).model_version == first.version
            # interrupt: one task loses its prediction; a re-run predicts only that one
            victim = next(t for t in tasks_of(client, project) if t.predictions)
            client.predictions.delete(victim.predictions[0].id)
            again = predict_project(client, project, service, chunk_size=3)
        finally:
            service.close()
    assert (again.already, again.predicted) == (len(photo_urls) - 2, 1)
    counts = [len(t.predictions) for t in tasks_of(client, project)]
    assert sorted(counts) == [0, 0] + [1] * (len(photo_urls) - 1)

    # The demo's connect helper registers the backend under its version straight away.
    version = connect_backend(client, project, backend.url)
    assert version == first.version
    [ml] = client.ml.list(project=project)
    assert ml.title == version and client.projects.get(project).model_version == version


def test_winnow_predict_command(
    client, settings, label_studio, photo_urls, ls_files_root, monkeypatch
):
    from typer.testing import CliRunner

    from winnow.cli.app import build_app

    project = make_project(client, photo_urls, ls_files_root, "predict command")
    monkeypatch.setenv("WINNOW_LABEL_STUDIO__URL", label_studio.url)
    monkeypatch.setenv("WINNOW_LABEL_STUDIO__API_KEY", label_studio.api_key)
    monkeypatch.setenv("WINNOW_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(build_app(), ["predict", "--project", str(project)])
    assert result.exit_code == 0, result.output
    assert "predicted now" in result.output and "in sync" in result.output
    predicted = [t for t in tasks_of(client, project) if t.predictions]
    assert len(predicted) == len(photo_urls) - 1
    version = predicted[0].predictions[0].model_version
    assert client.projects.get(project).model_version == version
