"""Label Studio on PostgreSQL, the production database path: import, pre-annotate, sort.

One Label Studio starts on a fresh PostgreSQL 15 (a cold start: its migrations run on
PostgreSQL, about a minute), then a class folder of real photos is imported with Winnow's
ML backend connected, predictions are retrieved and a score-sorted View is read back. The
rows are checked in PostgreSQL itself, so a silent fallback to SQLite cannot pass.
"""

from __future__ import annotations

import dataclasses
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio as LSClient
from pydantic import SecretStr

from ml_backend.server import BackendServer
from sync.importing.job import ImportOptions, run_import
from winnow.config import LabelStudioSettings, Settings, get_settings
from winnow.errors import ServiceError
from winnow.services import LabelStudio
from winnow.services.label_studio import DB_NAME
from winnow.services.postgres import PostgreSQL

pytestmark = pytest.mark.integration

CLASSES = {
    "cat": ["chelsea.png", "chelsea.webp"],
    "coffee": ["coffee.jpg", "coffee.tif"],
    "person": ["astronaut.bmp", "astronaut_gray.png"],
}


@pytest.fixture(scope="module")
def ls_postgres(
    tmp_path_factory: pytest.TempPathFactory,
    postgres: PostgreSQL,
    ls_files_root: Path,
    ls_venv: Path,
) -> Iterator[LabelStudio]:
    server = LabelStudio(
        tmp_path_factory.mktemp("ls-postgres"),
        venv=ls_venv,
        files_root=ls_files_root,
        postgres=postgres.database,
    )
    with server:
        yield server


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, ls_postgres: LabelStudio) -> Settings:
    ls = LabelStudioSettings(url=ls_postgres.url, api_key=SecretStr(ls_postgres.api_key))
    return get_settings(
        data_dir=tmp_path_factory.mktemp("pg-store"), label_studio=ls, features={"workers": 0}
    )


@pytest.fixture(scope="module")
def class_folder(ls_files_root: Path, real_images_dir: Path) -> Path:
    root = ls_files_root / f"pg-{uuid.uuid4().hex[:6]}"
    for label, names in CLASSES.items():
        (root / label).mkdir(parents=True)
        for name in names:
            shutil.copy(real_images_dir / name, root / label / name)
    return root


def test_label_studio_keeps_its_data_in_postgres(ls_postgres: LabelStudio, postgres: PostgreSQL):
    assert not (ls_postgres.data_dir / DB_NAME).exists()
    tables = postgres.query("SELECT count(*) FROM pg_tables WHERE tablename = 'project'")
    assert tables == "1"
    token = postgres.query("SELECT key FROM authtoken_token")
    assert token == ls_postgres.api_key


def test_import_predict_and_sort_on_postgres(
    settings: Settings, ls_postgres: LabelStudio, postgres: PostgreSQL, class_folder: Path
):
    with BackendServer(settings) as backend:
        ls = settings.label_studio.model_copy(update={"ml_backend_url": backend.url})
        summary = run_import(
            ImportOptions(str(class_folder), f"pg {uuid.uuid4().hex[:6]}"),
            settings=settings.model_copy(update={"label_studio": ls}),
        )
        n_images = sum(len(v) for v in CLASSES.values())
        assert (summary.imported, summary.annotations) == (n_images, n_images)
        client = LSClient(base_url=ls_postgres.url, api_key=ls_postgres.api_key)
        project = client.projects.get(id=summary.project_id)
        assert project.model_version.startswith("imagenet-efficientnet_lite0")
        client.actions.create(id="retrieve_tasks_predictions", project=project.id)

    rows = postgres.query(
        f"SELECT count(*), count(DISTINCT p.task_id) FROM prediction p "
        f"JOIN task t ON t.id = p.task_id WHERE t.project_id = {project.id}"
    )
    assert rows == f"{n_images}|{n_images}"
    tasks = list(client.tasks.list(project=project.id, fields="all"))
    by_file = {t.data["image"].rsplit("/", 1)[1]: t for t in tasks}
    for name, task in by_file.items():
        [prediction] = task.predictions
        assert prediction.model_version == project.model_version, name
        assert [a["result"][0]["value"]["choices"] for a in task.annotations] == [
            [next(label for label, names in CLASSES.items() if name in names)]
        ]
    top = by_file["coffee.jpg"].predictions[0].result[0]["value"]["choices"]
    assert top == ["coffee"]
    ordering = {"title": "by score", "ordering": ["-tasks:predictions_score"]}
    view = client.views.create(project=project.id, data=ordering)
    ordered = [t.predictions_score for t in client.tasks.list(project=project.id, view=view.id)]
    assert len(ordered) == n_images and None not in ordered
    assert ordered == sorted(ordered, reverse=True) and len(set(ordered)) > 2


def test_postgres_launcher_needs_the_password_and_cleans_up():
    server = PostgreSQL(database="other").start()
    try:
        assert server.query("SELECT current_database()") == "other"
        server.database = dataclasses.replace(server.database, password="wrong")
        with pytest.raises(ServiceError, match="password authentication failed"):
            server.query("SELECT 1")
    finally:
        server.stop()
    assert not server.root.exists()
