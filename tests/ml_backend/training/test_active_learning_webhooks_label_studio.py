"""Webhook-driven training against a real Label Studio 1.23: one count per annotation event
however many webhooks deliver it, a run on every annotation while a class is short, the first
trained model scored against zero-shot on the same held-out tasks, and /health naming the
model that serves.

Label Studio creates the webhook to ``<backend>/webhook`` itself when the backend is connected;
project "duplicate" adds a second one by hand (what older docs told users to do), so every
event arrives twice.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from label_studio_sdk import LabelStudio as LSClient

from ml_backend.server import BackendServer
from winnow.config import LabelStudioSettings, Settings, get_settings

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image" choice="single-radio">
    <Choice value="cat"/><Choice value="coffee" predicted_values="espresso,cup"/>
    <Choice value="person"/>
  </Choices>
</View>"""


@pytest.fixture(scope="module")
def settings(
    tmp_path_factory: pytest.TempPathFactory, ls_settings: LabelStudioSettings
) -> Settings:
    return get_settings(
        data_dir=tmp_path_factory.mktemp("al-webhooks"),
        label_studio=ls_settings,
        # a large held-out share: the first model is compared on several tasks
        training={
            "min_per_class": 2,
            "retrain_every": 5,
            "fine_tune": False,
            "holdout_fraction": 0.6,
        },
    )


def new_project(client: LSClient, title: str, image_urls, ls_files_root) -> tuple[int, dict]:
    project = client.projects.create(title=title, label_config=LABEL_CONFIG).id
    folder = ls_files_root / image_urls["cat"][0].split("?d=", 1)[1].split("/", 1)[0]
    client.import_storage.local.create(project=project, path=str(folder), use_blob_urls=True)
    client.projects.import_tasks(
        id=project, request=[{"image": u} for urls in image_urls.values() for u in urls]
    )
    return project, {t.data["image"]: t.id for t in client.tasks.list(project=project)}


def test_webhooks_count_once_trigger_while_short_and_zero_shot_is_the_rival(
    settings, label_studio, image_urls, ls_files_root, choice, wait_for, caplog
):
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    duplicate, dup_tasks = new_project(client, "duplicate webhooks", image_urls, ls_files_root)
    short, tasks = new_project(client, "trigger while short", image_urls, ls_files_root)

    def annotate(project_tasks, label, k):
        client.annotations.create(id=project_tasks[image_urls[label][k]], result=choice(label))

    with BackendServer(settings) as backend:
        learning = backend.app.state.backend.learning
        ml_ids = {}
        for project in (duplicate, short):
            ml_ids[project] = client.ml.create(url=backend.url, project=project, title="W").id
        zero_shot = client.ml.get(ml_ids[short]).model_version
        hooks = [h for h in client.webhooks.list(project=duplicate) if h.url.endswith("/webhook")]
        assert len(hooks) == 1 and hooks[0].send_for_all_actions  # made by Label Studio
        client.webhooks.create(project=duplicate, url=hooks[0].url, send_payload=True)

        # 4. Two webhooks, three annotations: three counted, no run (retrain_every is 5).
        for label, k in (("cat", 0), ("cat", 1), ("coffee", 0)):
            annotate(dup_tasks, label, k)
        wait_for(lambda: learning.triggers.duplicates >= 3)
        assert learning.triggers.pending(duplicate) == 3
        assert learning.project_status(duplicate) == {}  # no run was brought forward
        metrics = httpx.get(f"{backend.url}/metrics", trust_env=False, timeout=10).text
        assert "winnow_backend_webhook_duplicates_total 3.0" in metrics

        # 3. The fifth annotation runs and finds "person" short ...
        for label, k in (("cat", 0), ("cat", 1), ("cat", 2), ("coffee", 0), ("coffee", 1)):
            annotate(tasks, label, k)
        wait_for(lambda: learning.project_status(short).get("short") == ["person"])
        # ... then every annotation runs, so the one completing "person" trains at once.
        with caplog.at_level(logging.INFO, logger="ml_backend.training.candidates"):
            for label, k in (("coffee", 2), ("person", 0), ("person", 1)):
                annotate(tasks, label, k)
            status = wait_for(
                lambda: (
                    learning.worker.wait_idle(60)
                    and learning.project_status(short).get("n_annotations") == 8
                    and learning.project_status(short)
                ),
                timeout_s=120,
            )
        assert status["trained"] and not status["short"]

        # 1. The first trained model was scored against zero-shot on the same held-out tasks.
        [(version, decision)] = status["decisions"].items()
        assert decision["compared_with"] == zero_shot
        candidate, rival = decision["holdout_score"], decision["compared_score"]
        assert isinstance(candidate, float) and isinstance(rival, float)
        assert decision["promoted"] == (candidate >= rival)
        assert f"{candidate:.3f}" in caplog.text and f"{zero_shot} ({rival:.3f})" in caplog.text

        # 5. /health names the class of the model that serves, with both scores.
        health = httpx.get(f"{backend.url}/health", trust_env=False, timeout=10).json()
        entry = health["projects"][str(short)]
        assert entry["holdout_scores"] == {version: candidate, zero_shot: rival}
        if decision["promoted"]:
            wait_for(lambda: client.projects.get(short).model_version == version)
            assert health["model_class"] == entry["model_class"] == "winnow-linear-head"
            assert health["models"][str(short)] == version
        else:  # zero-shot was better on the held-out tasks: it keeps serving
            assert client.projects.get(short).model_version == zero_shot
            assert health["model_class"] == "winnow-zero-shot-imagenet"
            assert health["models"][str(short)] == zero_shot
