"""Active learning against a real Label Studio 1.23: annotate, train on the webhook, rank.

The backend runs in a thread with the real offline EfficientNet-Lite0 weights and reads the
photos back from Label Studio's local-files storage. Training uses the fast path only
(``fine_tune=False``: the linear head on cached embeddings) to keep the test near a minute;
the fastai fine-tune is covered by tests/winnow/learn/test_trainer.py.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from label_studio_sdk import LabelStudio as LSClient

from ml_backend.rank import VIEW_TITLE
from ml_backend.server import BackendServer
from winnow.config import LabelStudioSettings, Settings, get_settings

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View>
  <Header value="Active learning"/>
  <Image name="image" value="$image" zoom="true"/>
  <Choices name="label" toName="image" choice="single-radio" showInline="true">
    <Choice value="cat" hint="a cat"/>
    <Choice value="coffee" predicted_values="espresso,cup"/>
    <Choice value="person" hint="a person"/>
  </Choices>
</View>"""


@pytest.fixture(scope="module")
def settings(
    tmp_path_factory: pytest.TempPathFactory, ls_settings: LabelStudioSettings
) -> Settings:
    return get_settings(
        data_dir=tmp_path_factory.mktemp("active-learning"),
        label_studio=ls_settings,
        training={"min_per_class": 2, "retrain_every": 3, "fine_tune": False},
    )


def unlabeled_scores(client: LSClient, project: int) -> dict[int, float | None]:
    tasks = client.tasks.list(project=project, fields="all")
    return {t.id: t.predictions_score for t in tasks if not t.annotations}


def test_annotations_train_a_model_that_ranks_tasks(
    settings, label_studio, image_urls, ls_files_root, caplog, monkeypatch, choice, wait_for
):
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    project = client.projects.create(title="active learning", label_config=LABEL_CONFIG).id
    folder = ls_files_root / image_urls["cat"][0].split("?d=", 1)[1].split("/", 1)[0]
    client.import_storage.local.create(project=project, path=str(folder), use_blob_urls=True)
    tasks = [{"image": u} for urls in image_urls.values() for u in urls]
    client.projects.import_tasks(id=project, request=tasks)
    by_url = {t.data["image"]: t.id for t in client.tasks.list(project=project)}

    with BackendServer(settings) as backend:
        learning = backend.app.state.backend.learning
        ml = client.ml.create(url=backend.url, project=project, title="Winnow")
        zero_shot = client.ml.get(ml.id).model_version
        wait_for(lambda: client.projects.get(project).model_version == zero_shot)
        # Label Studio made the webhook to /webhook itself when the backend was connected
        [hook] = [h for h in client.webhooks.list(project=project) if h.url.endswith("/webhook")]
        assert hook.send_for_all_actions and hook.send_payload
        client.actions.create(id="retrieve_tasks_predictions", project=project)
        before = unlabeled_scores(client, project)

        # Two annotations per class: the third triggers a run, which finds "person" short;
        # from then on every annotation triggers one, until all classes have two.
        labelled = {label: urls[:2] for label, urls in image_urls.items()}
        annotation_ids = {}
        for label, urls in labelled.items():
            for url in urls:
                made = client.annotations.create(id=by_url[url], result=choice(label))
                annotation_ids[url] = made.id
        assert wait_for(
            lambda: learning.worker.wait_idle(60) and learning.registry.current(project)
        )
        trained = learning.registry.current(project)
        assert trained.version.startswith("linear-efficientnet_lite0-imagenet@6-")
        assert trained.metrics["train_size"] + trained.metrics["holdout_size"] == 6
        wait_for(lambda: client.projects.get(project).model_version == trained.version)
        serving = httpx.get(f"{backend.url}/health", trust_env=False, timeout=10).json()
        assert serving["model_class"] == "winnow-linear-head"  # not the zero-shot class
        assert serving["models"] == {str(project): trained.version}

        # /predict now answers with the trained model and an uncertainty score.
        answer = httpx.post(
            f"{backend.url}/predict",
            trust_env=False,
            timeout=60,
            json={
                "tasks": [{"id": 1, "data": {"image": image_urls["cat"][4]}}],
                "label_config": LABEL_CONFIG,
                "project": str(project),
            },
        ).json()["results"][0]
        assert answer["model_version"] == trained.version
        assert answer["result"][0]["value"]["choices"] == ["cat"]

        # winnow rank re-scores the unlabeled tasks and builds the View.
        from typer.testing import CliRunner

        from winnow.cli.app import build_app

        monkeypatch.setenv("WINNOW_LABEL_STUDIO__URL", label_studio.url)
        monkeypatch.setenv("WINNOW_LABEL_STUDIO__API_KEY", label_studio.api_key)
        monkeypatch.setenv("WINNOW_DATA_DIR", str(settings.data_dir))
        monkeypatch.setenv("WINNOW_TRAINING__MIN_PER_CLASS", "2")
        ran = CliRunner().invoke(build_app(), ["rank", "--project", str(project)])
        assert ran.exit_code == 0, ran.output
        assert f"9 tasks scored with {trained.version}" in " ".join(ran.output.split())
        after = unlabeled_scores(client, project)
        assert set(after) <= set(before) and len(after) == 9
        changed = [t for t in after if after[t] != pytest.approx(before[t])]
        assert len(changed) >= 8, (before, after)
        for task in client.tasks.list(project=project, fields="all"):
            if not task.annotations:
                versions = {p.model_version for p in task.predictions}
                assert trained.version in versions and zero_shot in versions
        [view] = [v for v in client.views.list(project=project) if v.data["title"] == VIEW_TITLE]
        listed = [t for t in client.tasks.list(project=project, view=view.id, fields="all")]
        scores = [t.predictions_score for t in listed]
        assert {t.id for t in listed} == set(after)  # unlabeled tasks only
        assert scores == sorted(scores) and None not in scores
        again = CliRunner().invoke(build_app(), ["rank", "--project", str(project)])
        assert "0 tasks scored" in again.output and "(9 already," in " ".join(again.output.split())

        # Deleting annotations below min_per_class falls back to zero-shot, and says why.
        with caplog.at_level(logging.WARNING, logger="ml_backend.training.registry"):
            client.annotations.delete(annotation_ids[labelled["person"][0]])
            wait_for(
                lambda: (
                    learning.worker.wait_idle(60)
                    and client.projects.get(project).model_version == zero_shot
                )
            )
        assert "serving zero-shot" in caplog.text and "['person']" in caplog.text
        health = httpx.get(f"{backend.url}/health", trust_env=False, timeout=10).json()
        assert health["training"] == "idle"
        assert health["model_class"] == "winnow-zero-shot-imagenet"  # zero-shot serves again
