"""Multi-label end to end on a real Label Studio 1.23: Fashion-MNIST mosaics imported with
their label sets into a ``choice="multiple"`` project, pre-annotated and then learned by the
ML backend on webhooks, ranked by the multi-label uncertainty, audited by ``winnow sync``
(complement label sets planted as errors) and exported with label sets in the manifest and
the card.

The mosaics come in as a URL list served on 127.0.0.1 (label sets ``|``-joined in its
``labels`` column), the path ``winnow import`` takes for labelled images from anywhere.
Training uses the linear head on cached embeddings only (``fine_tune=False``).
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from label_studio_sdk import LabelStudio as LSClient
from PIL import Image
from typer.testing import CliRunner

from analysis.uncertainty import uncertainty_score
from ml_backend.rank import VIEW_TITLE
from ml_backend.server import BackendServer
from sync.importing.job import ImportOptions, run_import
from sync.project_frame import labels_are_sets
from winnow.cli.app import build_app
from winnow.config import ImageIOSettings, LabelStudioSettings, Settings, get_settings
from winnow.labelstudio.label_config import find_label_control
from winnow.mosaics import fashion_mnist_mosaics, label_sets
from winnow.store import FeatureStore

pytestmark = pytest.mark.integration

N_MOSAICS = 60
N_LABELLED = 48  # imported with their label sets; the rest arrive unlabelled
ANNOTATE = 3  # then annotated in Label Studio: one webhook-triggered training run
PLANTED = (5, 17, 29, 41)  # imported with the complement of their true set
THRESHOLD = 0.3  # backend.multi_threshold (the default)
POSSIBLE = "Review: label issues (possible)"


@pytest.fixture
def mosaic_list(tmp_path: Path, web_server) -> tuple[Path, list[list[str]], tuple[str, ...]]:
    """(URL list, true label set per row, class names): the mosaics served as PNGs."""
    pixels, matrix, names = fashion_mnist_mosaics(N_MOSAICS, seed=3)
    truth = label_sets(matrix, names)
    path = tmp_path / "mosaics.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["url", "labels", "licence"])
        for i, mosaic in enumerate(pixels):
            png = io.BytesIO()
            Image.fromarray(mosaic).save(png, format="PNG")
            url = web_server.serve(
                f"/mosaics/{i:03d}.png", png.getvalue(), content_type="image/png"
            )
            given = [n for n in names if n not in truth[i]] if i in PLANTED else truth[i]
            writer.writerow([url, "|".join(given) if i < N_LABELLED else "", "MIT"])
    return path, truth, names


def _settings(tmp_path: Path, ls_settings: LabelStudioSettings, files_root: Path) -> Settings:
    return get_settings(
        data_dir=tmp_path / "data",
        label_studio=ls_settings.model_copy(update={"files_root": files_root}),
        io=ImageIOSettings(allowed_hosts=["127.0.0.1"], http_retries=1, http_timeout_s=10),
        features={"workers": 0},
        training={"min_per_class": 2, "retrain_every": ANNOTATE, "fine_tune": False},
    )


def _cli(monkeypatch: pytest.MonkeyPatch, settings: Settings, *args: str) -> str:
    """Run ``winnow ARGS`` with the same settings, through the environment as a user would."""
    env = {
        "WINNOW_DATA_DIR": str(settings.data_dir),
        "WINNOW_LABEL_STUDIO__URL": settings.label_studio.url,
        "WINNOW_LABEL_STUDIO__API_KEY": settings.label_studio.api_key.get_secret_value(),
        "WINNOW_IO__ALLOWED_HOSTS": '["127.0.0.1"]',
        "WINNOW_FEATURES__WORKERS": "0",
        "WINNOW_TRAINING__MIN_PER_CLASS": "2",
        "WINNOW_TRAINING__FINE_TUNE": "false",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ran = CliRunner().invoke(build_app(), list(args))
    assert ran.exit_code == 0, ran.output
    return " ".join(ran.output.split())


def _choices(results: list[dict]) -> list[str]:
    return [c for r in results for c in r["value"]["choices"]]


def test_multilabel_import_predict_train_rank_sync_export(
    tmp_path, label_studio, ls_settings, ls_files_root, mosaic_list, monkeypatch
):
    path, truth, names = mosaic_list
    settings = _settings(tmp_path, ls_settings, ls_files_root)
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    with BackendServer(settings) as backend:
        learning = backend.app.state.backend.learning
        # 1. Import: a new project with choice="multiple", label sets as annotations.
        connected = settings.label_studio.model_copy(update={"ml_backend_url": backend.url})
        summary = run_import(
            ImportOptions(
                str(path),
                f"mosaics {uuid.uuid4().hex[:6]}",
                multi_label=True,
                download_dir=ls_files_root / f"mosaics-{uuid.uuid4().hex[:6]}",
            ),
            settings=settings.model_copy(update={"label_studio": connected}),
        )
        project = summary.project_id
        assert (summary.imported, summary.annotations) == (N_MOSAICS, N_LABELLED)
        config = client.projects.get(project).label_config
        control = find_label_control(config)
        assert control.multiple and sorted(control.labels) == sorted(names)
        tasks = {t.data["winnow_source"].rsplit("/", 1)[1]: t for t in _all(client, project)}
        by_row = {i: tasks[f"{i:03d}.png"] for i in range(N_MOSAICS)}
        for i in range(N_LABELLED):
            [annotation] = by_row[i].annotations
            given = set(_choices(annotation["result"]))
            assert given == (set(names) - set(truth[i]) if i in PLANTED else set(truth[i]))

        # 2. Zero-shot pre-annotations through Label Studio: multiple-choice results.
        zero_shot = client.projects.get(project).model_version
        client.actions.create(id="retrieve_tasks_predictions", project=project)
        for task in _all(client, project):
            [prediction] = task.predictions
            assert prediction.model_version == zero_shot
            assert set(_choices(prediction.result)) <= set(names)

        # 3. Annotations made in Label Studio reach /webhook; the third trains a model.
        for i in range(N_LABELLED, N_LABELLED + ANNOTATE):
            client.annotations.create(id=by_row[i].id, result=control.choices_result(truth[i]))
        trained = _wait(
            lambda: learning.worker.wait_idle(60) and learning.registry.current(project),
            timeout_s=120,
        )
        assert trained.multi_label and sorted(trained.classes) == sorted(names)
        assert trained.metrics["train_size"] + trained.metrics["holdout_size"] == 51
        _wait(lambda: client.projects.get(project).model_version == trained.version)
        unlabeled = [by_row[i] for i in range(N_LABELLED + ANNOTATE, N_MOSAICS)]
        answer = httpx.post(
            f"{backend.url}/predict",
            trust_env=False,
            timeout=120,
            json={
                "tasks": [{"id": t.id, "data": t.data} for t in unlabeled],
                "label_config": config,
                "project": str(project),
            },
        ).json()["results"]
        assert {a["model_version"] for a in answer} == {trained.version}
        with FeatureStore(settings.store_path) as store:  # what the head reads, cached
            wanted = [t.data["winnow_sha256"] for t in unlabeled]
            shas, vectors = store.embeddings(trained.embedder, wanted)
        probs = dict(zip(shas, trained.predict_proba_vectors(vectors), strict=True))
        sizes = []
        for task, got in zip(unlabeled, answer, strict=True):
            p = probs[task.data["winnow_sha256"]]
            wanted = [
                trained.classes[k] for k in np.argsort(-p, kind="stable") if p[k] >= THRESHOLD
            ]
            assert _choices(got["result"]) == wanted
            sizes.append(len(wanted))
        assert max(sizes) >= 2, sizes  # several choices on one task

        # 4. winnow rank scores the unlabeled tasks by the multi-label uncertainty.
        ranked = _cli(monkeypatch, settings, "rank", "--project", str(project))
        assert f"{len(unlabeled)} tasks scored with {trained.version}" in ranked
        for task in _all(client, project):
            if task.annotations:
                continue
            [mine] = [p for p in task.predictions if p.model_version == trained.version]
            p = probs[task.data["winnow_sha256"]]
            margin = np.abs(2 * p - 1).min()  # the least decided class, by hand
            assert mine.score == pytest.approx(margin, abs=1e-5)
            expected = uncertainty_score(p[None].astype(float), "margin", multi_label=True)
            assert mine.score == pytest.approx(float(expected[0]), abs=1e-5)
        [view] = [v for v in client.views.list(project=project) if v.data["title"] == VIEW_TITLE]
        listed = [t.predictions_score for t in client.tasks.list(project=project, view=view.id)]
        assert len(listed) == len(unlabeled) and listed == sorted(listed)

    # 5. winnow sync audits the label sets per class: the planted complements are flagged.
    _cli(monkeypatch, settings, "sync", "--project", str(project))
    synced = {t.id: t for t in _all(client, project)}
    flagged = {
        t.id: t.data["winnow_label_issue_score"]
        for t in synced.values()
        if "winnow_label_issue_score" in t.data
    }
    planted = {by_row[i].id for i in PLANTED}
    assert planted <= set(flagged), (planted, flagged)
    top = sorted(flagged, key=lambda t: -flagged[t])[: 2 * len(PLANTED)]
    assert planted <= set(top), (planted, sorted(flagged.items(), key=lambda kv: -kv[1]))
    for task_id in planted:
        task = synced[task_id]
        assert "possible_label_issue" in task.data["winnow_flags"]  # no cut is claimed for sets
        assert any("per class, out of sample" in line for line in task.meta["winnow_review"])
        suggested = set(task.data.get("winnow_suggested_label", "").split("|")) - {""}
        given = set(_choices(task.annotations[0]["result"]))
        assert suggested <= set(names) and len(suggested & given) < len(given)
    [queue] = [v for v in client.views.list(project=project) if v.data["title"] == POSSIBLE]
    assert planted <= {t.id for t in client.tasks.list(project=project, view=queue.id)}

    # What the model report and the export route by: the synced labeling config.
    assert labels_are_sets(settings, project) is True

    # 6. winnow export writes the label sets to the manifest and the card.
    out = tmp_path / "export"
    _cli(monkeypatch, settings, "export", "--project", str(project), "--out", str(out))
    manifest = pd.read_parquet(out / "v1.0" / "manifest.parquet")
    by_sha = {t.data["winnow_sha256"]: t for t in synced.values()}
    labelled = {sha for sha, t in by_sha.items() if t.annotations}
    assert set(manifest["sha256"]) == labelled  # flagged sets stay; unlabelled tasks do not
    for sha, labels in zip(manifest["sha256"], manifest["labels"], strict=True):
        annotations = by_sha[sha].annotations
        assert set(labels) == (set(_choices(annotations[0]["result"])) if annotations else set())
    assert manifest["labels"].map(len).max() >= 2
    card = (out / "v1.0" / "DATASET_CARD.md").read_text()
    assert "## Label sets" in card


def _wait(check: Callable[[], object], timeout_s: float = 60.0) -> object:
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.3)
    return value


def _all(client: LSClient, project: int) -> list:
    return sorted(
        client.tasks.list(project=project, fields="all", page_size=500), key=lambda t: t.id
    )
