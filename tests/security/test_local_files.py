"""Issue 17, finding 1: server files are not readable through task data.

The attack: a Label Studio user imports tasks whose image names a file on Winnow's server,
as ``/abs/path``, ``file:///abs/path``, ``FILE:///abs/path`` and
``FiLe://localhost/abs/path``. The secret is a real JPEG carrying a unique marker. Against
real processes (Label Studio, ``winnow index --project``, ``winnow export --project``,
``winnow backend`` and ``winnow serve``), every form is refused, the refusal reads the same
for a file that exists and one that does not, and neither the marker nor the secret's
sha256 appears in any output, store, index or export.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_process import PROJECT, build_index, running_api
from backend_process import LABEL_CONFIG, Backend, photo_jpeg, running_backend
from label_studio_sdk import LabelStudio as LSClient
from PIL import Image

from sync.importing.job import ImportOptions, run_import
from winnow.config import ImageIOSettings, LabelStudioSettings, Settings, get_settings
from winnow.index import IndexPoint, open_index
from winnow.services import LabelStudio
from winnow.store import FeatureStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MARKER = f"WINNOW-SECRET-{uuid.uuid4().hex}".encode()
API_KEY = "local-files-key-1"


def forms(path: Path) -> list[str]:
    """The four ways task data can name a local file."""
    return [str(path), path.as_uri(), "FILE://" + str(path), "FiLe://localhost" + str(path)]


@pytest.fixture(scope="module")
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real JPEG outside every configured root, with a unique marker inside."""
    path = tmp_path_factory.mktemp("operator-home") / "secret.jpg"
    path.write_bytes(photo_jpeg("coffee", comment=MARKER))
    return path


@pytest.fixture(scope="module")
def secret_sha(secret: Path) -> str:
    return hashlib.sha256(secret.read_bytes()).hexdigest()


def assert_never_leaked(blob: bytes | str, secret_sha: str) -> None:
    text = blob if isinstance(blob, bytes) else blob.encode()
    assert MARKER not in text
    assert secret_sha.encode() not in text


def _winnow(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("WINNOW_")}
    child_env.update(env, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "winnow", *args],
        env=child_env,
        cwd=cwd,
        capture_output=True,
        timeout=600,
        check=False,
    )


def test_index_and_export_of_a_project_refuse_local_task_images(
    tmp_path: Path,
    label_studio: LabelStudio,
    ls_settings: LabelStudioSettings,
    ls_files_root: Path,
    real_images_dir: Path,
    secret: Path,
    secret_sha: str,
) -> None:
    folder = ls_files_root / f"local-files-{uuid.uuid4().hex[:6]}" / "cat"
    folder.mkdir(parents=True)
    shutil.copy(real_images_dir / "chelsea.png", folder / "chelsea.png")
    data_dir = tmp_path / "data"
    settings = get_settings(
        data_dir=data_dir,
        label_studio=ls_settings,
        io=ImageIOSettings(allowed_hosts=["127.0.0.1"]),
        features={"workers": 0},
    )
    project = run_import(
        ImportOptions(str(folder.parent), f"local files {uuid.uuid4().hex[:6]}"),
        settings=settings,
    ).project_id
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    client.projects.import_tasks(
        id=project, request=[{"image": source} for source in forms(secret)]
    )
    env = {
        "WINNOW_DATA_DIR": str(data_dir),
        "WINNOW_LABEL_STUDIO__URL": label_studio.url,
        "WINNOW_LABEL_STUDIO__API_KEY": label_studio.api_key,
        "WINNOW_IO__ALLOWED_HOSTS": '["127.0.0.1"]',
        "WINNOW_EMBEDDING__KIND": "backbone",
        "WINNOW_FEATURES__WORKERS": "0",
    }

    indexed = _winnow(["index", "--project", str(project)], env, tmp_path)
    out = tmp_path / "export"
    exported = _winnow(["export", "--project", str(project), "--out", str(out)], env, tmp_path)

    assert indexed.returncode == 0, indexed.stderr.decode()[-2000:]
    assert exported.returncode == 0, exported.stderr.decode()[-2000:]
    for run in (indexed, exported):
        assert_never_leaked(run.stdout + run.stderr, secret_sha)
    with FeatureStore(Settings(data_dir=data_dir).store_path) as store:
        assert store.known_images([secret_sha]) == set()
        records = store.sources_by_uri(forms(secret))
        assert len(records) == 4  # each form was tried ...
        assert {r.error_kind for r in records.values()} == {"blocked_source"}  # ... and refused
        assert all(r.sha256 is None and r.mtime_ns is None for r in records.values())
    index = open_index(Settings(data_dir=data_dir))
    try:
        assert index.count() == 1  # the one real image of the project, nothing else
    finally:
        index.close()
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".png" for p in files)  # the real image was exported
    for path in files:
        assert_never_leaked(path.read_bytes(), secret_sha)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with running_backend(tmp_path_factory.mktemp("backend-local-files")) as server:
        yield server


def test_backend_predict_refuses_every_form_alike_whether_the_file_exists_or_not(
    backend: Backend, secret: Path, secret_sha: str
) -> None:
    missing = secret.parent / "no-such-secret.jpg"
    sources = forms(secret) + forms(missing)
    tasks = [{"id": i, "data": {"image": source}} for i, source in enumerate(sources)]
    with backend.client() as http:
        assert http.post("/setup", json={"project": "3.0", "schema": LABEL_CONFIG}).is_success
        response = http.post(
            "/predict", json={"tasks": tasks, "label_config": LABEL_CONFIG, "project": "3.0"}
        )

    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == len(sources)
    assert all("result" not in r for r in results)  # nothing was predicted on
    errors = [r["error"] for r in results]
    assert all(e.startswith("blocked_source:") for e in errors)
    assert len(set(errors)) == 1  # existing and missing files answer the same
    assert_never_leaked(response.content, secret_sha)
    assert_never_leaked(backend.log(), secret_sha)


def test_backend_still_reads_under_io_local_roots(
    tmp_path: Path, secret: Path, secret_sha: str
) -> None:
    """The refusal above is the policy, not a broken reader: with the folder configured in
    io.local_roots the same task is predicted."""
    roots = json.dumps([str(secret.parent)])
    with (
        running_backend(tmp_path / "data", {"WINNOW_IO__LOCAL_ROOTS": roots}) as server,
        server.client() as http,
    ):
        task = {"id": 1, "data": {"image": "FiLe://localhost" + str(secret)}}
        response = http.post("/predict", json={"tasks": [task], "label_config": LABEL_CONFIG})
    assert response.status_code == 200
    assert response.json()["results"][0]["result"]


def test_thumbnail_endpoint_refuses_local_addresses_in_the_index(
    tmp_path: Path, imagenet_predictor, secret: Path, secret_sha: str
) -> None:
    """Points whose address names a server file (say, indexed under an older, looser
    config) get no thumbnail from the real API; a real indexed image still does."""
    data_dir = tmp_path / "api"
    build_index(data_dir, imagenet_predictor)
    vector = imagenet_predictor.feature_model.backbone.embed_images(
        [Image.open(secret).convert("RGB")]
    )[0]
    points = []
    for i, source in enumerate(forms(secret)):
        sha = hashlib.sha256(f"attack point {i}".encode()).hexdigest()
        payload = {"sha256": sha, "task_id": 100 + i, "url": source, "project": PROJECT}
        points.append(IndexPoint(sha, vector, {**payload, "task_ids": [100 + i]}))
    index = open_index(Settings(data_dir=data_dir))
    index.upsert(points)
    index.close()

    with (
        running_api(data_dir, env={"WINNOW_SERVE__API_KEYS": API_KEY}) as api,
        api.client(API_KEY) as http,
    ):
        control = http.get("/v1/tasks/1/thumbnail")
        attacks = [http.get(f"/v1/tasks/{100 + i}/thumbnail") for i in range(4)]
        log = api.log()

    assert control.status_code == 200 and control.content[:3] == b"\xff\xd8\xff"
    for response in attacks:
        assert response.status_code >= 400
        assert response.json()["kind"] == "blocked_source"
        assert_never_leaked(response.content, secret_sha)
    assert_never_leaked(log, secret_sha)
