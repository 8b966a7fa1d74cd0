"""`winnow import` against a real Label Studio, a real S3 server (SeaweedFS) and a real web
server on 127.0.0.1: folders, URL lists and S3 prefixes become tasks whose annotations match
the source's labels, images are served back by Label Studio, and a re-import changes nothing."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from label_studio_sdk import LabelStudio as LSClient
from pydantic import SecretStr
from typer.testing import CliRunner

from sync.importing.job import ImportOptions, run_import
from sync.importing.project import load_index
from winnow.cli.app import build_app
from winnow.config import ImageIOSettings, LabelStudioSettings, S3Settings, Settings, get_settings
from winnow.errors import ConfigError, LabelStudioError
from winnow.ingest.download import DownloadPolicy
from winnow.labelstudio.label_config import REVIEW_CONTROL, find_label_control
from winnow.models import make_embedder
from winnow.services import LabelStudio, SeaweedFS
from winnow.services.process import serving_in_thread
from winnow.store import FeatureStore
from winnow.store.import_log import ImportLog

pytestmark = pytest.mark.integration

CLASSES = {  # class folder -> real photos from REAL_IMAGES
    "cat": ["chelsea.png", "chelsea.webp", "chelsea_palette.gif"],
    "drink": ["coffee.jpg", "coffee.tif"],
    "person": ["astronaut.bmp", "astronaut_gray.png"],
}


def _settings(
    tmp_path: Path,
    ls: LabelStudio,
    *,
    files_root: Path | None = None,
    seaweedfs: SeaweedFS | None = None,
    max_bytes: int = 64 * 1024 * 1024,
    ml_backend_url: str | None = None,
) -> Settings:
    s3 = S3Settings()
    if seaweedfs is not None:
        s3 = S3Settings(
            endpoint_url=seaweedfs.endpoint_url,
            access_key_id=SecretStr(seaweedfs.access_key),
            secret_access_key=SecretStr(seaweedfs.secret_key),
        )
    return get_settings(
        data_dir=tmp_path / "winnow-data",
        label_studio=LabelStudioSettings(
            url=ls.url,
            api_key=SecretStr(ls.api_key),
            files_root=files_root,
            ml_backend_url=ml_backend_url,
        ),
        io=ImageIOSettings(
            allowed_hosts=["127.0.0.1"], max_bytes=max_bytes, http_retries=1, http_timeout_s=10
        ),
        s3=s3,
        features={"workers": 0},
    )


def _tasks(ls: LabelStudio, project_id: int) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{ls.url}/api/tasks",
        headers=ls.auth_headers,
        timeout=30,
        params={"project": project_id, "fields": "all", "page_size": 1000, "resolve_uri": "false"},
    )  # the stored data, not resolved URLs
    response.raise_for_status()
    return sorted(response.json()["tasks"], key=lambda t: t["id"])


def _served(ls: LabelStudio, task: dict[str, Any]) -> bytes:
    """The image bytes Label Studio serves for ``task`` (resolving storages as the UI does)."""
    resolved = httpx.get(
        f"{ls.url}/api/tasks/{task['id']}",
        params={"resolve_uri": "true"},
        headers=ls.auth_headers,
        timeout=30,
    ).json()["data"]["image"]
    url = resolved if resolved.startswith("http") else ls.url + resolved
    headers = ls.auth_headers if url.startswith(ls.url) else {}
    response = httpx.get(url, headers=headers, follow_redirects=True, timeout=30)
    assert response.status_code == 200, (url, response.text[:200])
    return response.content


def _choice(task: dict[str, Any]) -> list[str]:
    (annotation,) = task["annotations"]
    assert annotation["ground_truth"] is False
    (item,) = annotation["result"]
    return item["value"]["choices"]


@pytest.fixture
def class_folder(ls_files_root: Path, real_images_dir: Path) -> Path:
    root = ls_files_root / f"pets {uuid.uuid4().hex[:6]}"  # a space: URLs must be quoted
    for label, names in CLASSES.items():
        (root / label).mkdir(parents=True)
        for name in names:
            shutil.copy(real_images_dir / name, root / label / name)
    (root / "notes.txt").write_text("not an image, ignored")
    return root


def test_class_folder_import_then_reimport_changes_nothing(
    tmp_path: Path, label_studio: LabelStudio, class_folder: Path
) -> None:
    settings = _settings(tmp_path, label_studio)  # document root found by asking Label Studio
    title = f"folder {uuid.uuid4().hex[:8]}"
    summary = run_import(ImportOptions(str(class_folder), title), settings=settings)

    n_images = sum(len(v) for v in CLASSES.values())
    assert summary.created_project and summary.layout == "class"
    assert (summary.imported, summary.annotations, summary.skipped) == (n_images, n_images, [])
    assert summary.ignored_files == 1 and summary.flags["no_licence"] == n_images
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    config = client.projects.get(id=summary.project_id).label_config
    assert find_label_control(config).labels == tuple(sorted(CLASSES))
    assert REVIEW_CONTROL in config
    tasks = _tasks(label_studio, summary.project_id)
    assert len(tasks) == n_images
    for task in tasks:
        source = Path(task["data"]["winnow_source"])
        assert _choice(task) == [source.parent.name]  # the annotation matches the folder
        assert task["data"]["image"].startswith("/data/local-files/?d=pets%20")
        assert task["meta"]["winnow"]["labels_from"] == "folder"
        assert _served(label_studio, task) == source.read_bytes()
    with FeatureStore(settings.store_path) as store:
        shas = {t["data"]["winnow_sha256"] for t in tasks}
        assert store.known_images(shas) == shas  # features are in the store already
    index = load_index(client, summary.project_id, page_size=3)  # paging: 3 + 3 + 1
    assert (index.tasks, set(index.by_sha)) == (n_images, shas)

    again = run_import(ImportOptions(str(class_folder), title), settings=settings)

    assert (again.project_id, again.created_project, again.imported) == (
        summary.project_id,
        False,
        0,
    )
    assert again.skipped_by_reason == {"already_imported": n_images}
    assert _tasks(label_studio, summary.project_id) == tasks  # nothing changed, not even dates


def test_detection_import_makes_rectangle_labels_and_no_whole_image_annotations(
    tmp_path: Path, label_studio: LabelStudio, class_folder: Path
) -> None:
    settings = _settings(tmp_path, label_studio)
    opts = ImportOptions(
        str(class_folder), f"boxes {uuid.uuid4().hex[:8]}", task="detection", embed=True
    )

    summary = run_import(opts, settings=settings)

    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    config = client.projects.get(id=summary.project_id).label_config
    assert find_label_control(config, task="detection").labels == tuple(sorted(CLASSES))
    tasks = _tasks(label_studio, summary.project_id)
    assert summary.annotations == 0 and all(task["annotations"] == [] for task in tasks)
    assert {task["data"]["winnow_source_label"] for task in tasks} == set(CLASSES)
    with FeatureStore(settings.store_path) as store:  # --embed: vectors are stored too
        shas, vectors = store.embeddings(make_embedder(settings.embedding).model_id)
    assert set(shas) == {task["data"]["winnow_sha256"] for task in tasks}
    assert vectors.shape == (len(tasks), 1280)


def test_split_class_import_keeps_splits_and_adds_only_new_content(
    tmp_path: Path, label_studio: LabelStudio, ls_files_root: Path, real_images_dir: Path
) -> None:
    root = ls_files_root / f"split-{uuid.uuid4().hex[:6]}"
    layout = {
        "train/cat/a.png": "chelsea.png",
        "train/drink/b.jpg": "coffee.jpg",
        "val/cat/c.webp": "chelsea.webp",
        "val/drink/d.tif": "coffee.tif",
        "val/cat/same-as-b.jpg": "coffee.jpg",
    }
    for rel, name in layout.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(real_images_dir / name, root / rel)
    (root / "val/cat/broken.jpg").write_bytes(b"<html>a web page saved as .jpg</html>")
    settings = _settings(tmp_path, label_studio, files_root=ls_files_root)
    opts = ImportOptions(str(root), f"split {uuid.uuid4().hex[:8]}", licence="CC0-1.0")

    summary = run_import(opts, settings=settings)

    assert summary.layout == "split/class" and summary.imported == 4
    assert summary.skipped_by_reason == {"duplicate": 1, "not_an_image": 1}
    tasks = {
        Path(t["data"]["winnow_source"]).relative_to(root).as_posix(): t
        for t in _tasks(label_studio, summary.project_id)
    }
    assert set(tasks) == set(layout) - {"val/cat/same-as-b.jpg"}
    for rel, task in tasks.items():
        split, label, _ = rel.split("/")
        assert (task["data"]["split"], _choice(task)) == (split, [label])
        assert task["data"]["winnow_licence"] == "CC0-1.0"
    # files are taken in sorted order: the first copy is kept; the other copy sits in a
    # "cat" folder, so the kept one is flagged for review
    assert tasks["train/drink/b.jpg"]["data"]["winnow_flags"] == ["duplicate_label_conflict"]

    (root / "train/person").mkdir()
    shutil.copy(real_images_dir / "astronaut.bmp", root / "train/person/e.bmp")
    more = run_import(opts, settings=settings)

    assert (more.imported, more.labels_added) == (1, ["person"])
    assert more.skipped_by_reason == {"already_imported": 4, "duplicate": 1, "not_an_image": 1}
    assert len(_tasks(label_studio, summary.project_id)) == 5


def test_folder_outside_the_document_root_is_a_clear_error(
    tmp_path: Path, label_studio: LabelStudio, ls_files_root: Path, real_images_dir: Path
) -> None:
    outside = tmp_path / "outside" / "cat"
    outside.mkdir(parents=True)
    shutil.copy(real_images_dir / "coffee.jpg", outside / "coffee.jpg")
    source = str(outside.parent)

    configured = _settings(tmp_path, label_studio, files_root=ls_files_root)
    with pytest.raises(ConfigError, match="LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"):
        run_import(ImportOptions(source, f"outside {uuid.uuid4().hex[:8]}"), settings=configured)
    probing = _settings(tmp_path, label_studio)
    with pytest.raises(LabelStudioError, match="LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT") as err:
        run_import(ImportOptions(source, f"outside {uuid.uuid4().hex[:8]}"), settings=probing)
    assert "must be a subdirectory" in str(err.value)  # Label Studio's own reason is kept


@pytest.fixture
def url_list(tmp_path: Path, web_server, real_images_dir: Path) -> tuple[Path, dict[str, str]]:
    photo = {
        name: (real_images_dir / name).read_bytes()
        for name in ("coffee.jpg", "chelsea.png", "astronaut_gray.jpg")
    }
    urls = {
        "coffee": web_server.serve("/img/coffee.jpg", photo["coffee.jpg"]),
        "chelsea": web_server.serve("/img/chelsea.png", photo["chelsea.png"], content_type="x/y"),
        "astronaut": web_server.serve("/a/astronaut.jpg", photo["astronaut_gray.jpg"]),
        "copy": web_server.serve("/mirror/coffee-copy.jpg", photo["coffee.jpg"]),
        "private": web_server.redirect("/go/private.jpg", "http://10.0.0.1/secret.jpg"),
        "metadata": web_server.redirect("/go/meta.jpg", "http://169.254.169.254/latest/"),
        "missing": f"{web_server.origin}/gone.jpg",
        "html": web_server.serve(
            "/page.jpg", b"<!DOCTYPE html><html>login</html>", content_type="text/html"
        ),
        "huge": web_server.serve("/huge.jpg", b"\xff\xd8\xff" + b"\x00" * 3_000_000),
    }
    rows = [
        {
            "url": urls["coffee"],
            "label": "drink",
            "licence": "CC-BY-4.0",
            "author": "Ann",
            "source_page": "https://example.org/coffee",
            "date": "2021-05-01",
        },
        {"url": urls["chelsea"], "label": "cat"},  # no licence: flagged
        {"url": urls["astronaut"], "label": "person", "license": "CC0-1.0"},
        {"url": urls["copy"], "label": "drink", "licence": "CC-BY-4.0"},
        *(
            {"url": urls[k], "label": "cat"}
            for k in ("private", "metadata", "missing", "html", "huge")
        ),
        {"url": "file:///etc/passwd", "label": "cat"},
    ]
    path = tmp_path / "urls.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path, urls


def test_url_list_import_records_provenance_and_skips_what_it_must(
    tmp_path: Path, label_studio: LabelStudio, ls_files_root: Path, web_server, url_list
) -> None:
    path, urls = url_list
    settings = _settings(tmp_path, label_studio, max_bytes=2_000_000)
    downloads = ls_files_root / f"downloads-{uuid.uuid4().hex[:6]}"
    opts = ImportOptions(
        str(path),
        f"urls {uuid.uuid4().hex[:8]}",
        download_dir=downloads,
        policy=DownloadPolicy(concurrency=4, per_host_rate=50),
    )

    summary = run_import(opts, settings=settings)

    assert summary.imported == 3 and summary.annotations == 3
    assert summary.skipped_by_reason == {
        "duplicate": 1,
        "blocked_source": 2,
        "fetch_failed": 1,
        "not_an_image": 1,
        "too_large": 1,
        "invalid_row": 1,
    }
    reasons = {s.source: s for s in summary.skipped}
    assert "10.0.0.1" in reasons[urls["private"]].detail
    assert "404" in reasons[urls["missing"]].detail
    assert reasons[urls["copy"]].detail in (
        f"same content as {urls['coffee']}",
        f"same content as {urls['copy']}",
    )
    tasks = {t["data"]["winnow_url"]: t for t in _tasks(label_studio, summary.project_id)}
    assert set(tasks) | {urls["copy"]} >= {urls["chelsea"], urls["astronaut"]}
    assert len(tasks) == 3
    coffee = tasks.get(urls["coffee"]) or tasks[urls["copy"]]
    assert coffee["data"]["winnow_source_page"] == "https://example.org/coffee"
    assert (coffee["data"]["winnow_author"], coffee["data"]["winnow_date"]) == ("Ann", "2021-05-01")
    assert "winnow_flags" not in coffee["data"]
    assert tasks[urls["chelsea"]]["data"]["winnow_flags"] == ["no_licence"]
    assert _choice(tasks[urls["astronaut"]]) == ["person"]
    for url, task in tasks.items():
        assert task["data"]["image"].startswith("/data/local-files/?d=downloads-")
        assert _served(label_studio, task) == httpx.get(url).content
    with ImportLog(settings.store_path) as log:
        entries = {e.source: e for e in log.entries()}
    assert entries[urls["chelsea"]].licence is None and entries[urls["chelsea"]].retrieved_at
    assert entries[urls["huge"]].status == "skipped" and "too_large" in entries[urls["huge"]].reason
    hits = dict(web_server.hits)

    again = run_import(opts, settings=settings)

    assert again.imported == 0 and again.skipped_by_reason["already_imported"] == 3
    assert len(_tasks(label_studio, summary.project_id)) == 3
    for key in ("coffee", "chelsea", "astronaut"):  # imported URLs are not fetched again
        route = urls[key].removeprefix(web_server.origin)
        assert web_server.hits[route] == hits[route]


def test_url_list_in_link_mode_points_tasks_at_the_urls(
    tmp_path: Path, label_studio: LabelStudio, url_list
) -> None:
    path, urls = url_list
    settings = _settings(tmp_path, label_studio, max_bytes=2_000_000)
    opts = ImportOptions(str(path), f"links {uuid.uuid4().hex[:8]}", url_mode="link")

    summary = run_import(opts, settings=settings)

    images = {t["data"]["image"] for t in _tasks(label_studio, summary.project_id)}
    assert summary.imported == 3 and images <= set(urls.values())
    assert (settings.data_dir / "downloads").is_dir()  # the copies feed the feature store


@pytest.fixture
def bucket(seaweedfs: SeaweedFS, real_images_dir: Path) -> str:
    name = seaweedfs.create_bucket(f"import-{uuid.uuid4().hex[:8]}")
    client = seaweedfs.client()
    for label, names in CLASSES.items():
        for image in names:
            client.put_object(
                Bucket=name,
                Key=f"sets/pets/{label}/{image}",
                Body=(real_images_dir / image).read_bytes(),
            )
    client.put_object(Bucket=name, Key="sets/pets/cat/readme.txt", Body=b"ignored")
    client.put_object(
        Bucket=name, Key="sets/other/cat/x.png", Body=(real_images_dir / "chelsea.png").read_bytes()
    )
    return name


@pytest.mark.parametrize("mode", ["storage", "presign"])
def test_s3_prefix_import_from_seaweedfs(
    tmp_path: Path,
    label_studio: LabelStudio,
    seaweedfs: SeaweedFS,
    bucket: str,
    mode: str,
    real_images_dir: Path,
) -> None:
    settings = _settings(tmp_path, label_studio, seaweedfs=seaweedfs)
    opts = ImportOptions(
        f"s3://{bucket}/sets/pets", f"s3 {mode} {uuid.uuid4().hex[:6]}", s3_mode=mode
    )  # type: ignore[arg-type]

    summary = run_import(opts, settings=settings)

    n_images = sum(len(v) for v in CLASSES.values())
    assert (summary.imported, summary.ignored_files, summary.layout) == (n_images, 1, "class")
    for task in _tasks(label_studio, summary.project_id):
        source = task["data"]["winnow_source"]
        label, name = source.split("/")[-2:]
        assert source.startswith(f"s3://{bucket}/sets/pets/")
        assert _choice(task) == [label]
        image = task["data"]["image"]
        assert image == source if mode == "storage" else "X-Amz-Signature" in image
        assert _served(label_studio, task) == (real_images_dir / name).read_bytes()
    again = run_import(opts, settings=settings)
    assert again.imported == 0 and again.skipped_by_reason == {"already_imported": n_images}


class _Backend(ThreadingHTTPServer):
    """The two calls Label Studio makes when a backend is connected: /health and /setup."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _BackendHandler)
        self.calls: list[str] = []


class _BackendHandler(BaseHTTPRequestHandler):
    server: _Backend

    def _reply(self) -> None:
        self.server.calls.append(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps({"status": "UP", "model_version": "stub"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _reply

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[_Backend]:
    with serving_in_thread(_Backend()) as server:
        yield server


def test_cli_import_connects_the_configured_ml_backend_once(
    tmp_path: Path,
    label_studio: LabelStudio,
    class_folder: Path,
    backend: _Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"http://127.0.0.1:{backend.server_address[1]}"
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "WINNOW_LABEL_STUDIO__URL": label_studio.url,
        "WINNOW_LABEL_STUDIO__API_KEY": label_studio.api_key,
        "WINNOW_LABEL_STUDIO__ML_BACKEND_URL": url,
        "WINNOW_DATA_DIR": str(tmp_path / "data"),
        "WINNOW_FEATURES__WORKERS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    title = f"cli {uuid.uuid4().hex[:8]}"
    runner, app = CliRunner(), build_app()

    first = runner.invoke(app, ["import", str(class_folder), "--project", title])
    second = runner.invoke(app, ["import", str(class_folder), "--project", title])

    assert first.exit_code == 0, first.output
    assert "imported tasks" in first.output and "already in the project" in second.output
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    (project,) = [p for p in client.projects.list(title=title) if p.title == title]
    (connected,) = client.ml.list(project=project.id)
    assert connected.url.rstrip("/") == url
    assert "/setup" in backend.calls
    # score sorting needs the project's model version to equal the backend's
    assert connected.title == "stub" == client.projects.get(id=project.id).model_version
    assert len(_tasks(label_studio, project.id)) == sum(len(v) for v in CLASSES.values())


def test_mosaics_folder_with_its_label_table_imports_label_sets_through_the_cli(
    tmp_path: Path,
    label_studio: LabelStudio,
    ls_files_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from winnow.mosaics import build_mosaics

    folder = ls_files_root / f"mosaics {uuid.uuid4().hex[:6]}"
    build_mosaics(folder, n=12, seed=5)  # 12 train + 3 test, labels.csv beside them
    with open(folder / "labels.csv", newline="", encoding="utf-8") as fh:
        want = {
            str((folder / row["image"]).resolve()): sorted(row["labels"].split("|"))
            for row in __import__("csv").DictReader(fh)
        }
    monkeypatch.setenv("WINNOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WINNOW_LABEL_STUDIO__URL", label_studio.url)
    monkeypatch.setenv("WINNOW_LABEL_STUDIO__API_KEY", label_studio.api_key)
    title = f"mosaics {uuid.uuid4().hex[:6]}"
    app = build_app()

    refused = CliRunner().invoke(app, ["import", str(folder), "--project", title])
    assert refused.exit_code == 1 and "--multi-label" in str(refused.exception)

    done = CliRunner().invoke(app, ["import", str(folder), "--project", title, "--multi-label"])
    assert done.exit_code == 0, done.output
    assert "labels.csv layout" in done.output

    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    (project,) = [p for p in client.projects.list() if p.title == title]
    assert 'choice="multiple"' in project.label_config
    tasks = _tasks(label_studio, project.id)
    got = {
        task["data"]["winnow_source"]: sorted(
            task["annotations"][0]["result"][0]["value"]["choices"]
        )
        for task in tasks
    }
    assert got == want
    assert any(len(labels) > 1 for labels in got.values())


def test_import_into_a_project_that_shows_the_evidence_panel(
    tmp_path: Path, label_studio: LabelStudio, class_folder: Path, ls_files_root: Path
) -> None:
    """Label Studio refuses a task without every field its config shows; an import into a
    project that `winnow sync --add-review-control` extended starts the panel's field empty."""
    from sync.review.review_control import has_evidence_panel, with_review_control

    settings = _settings(tmp_path, label_studio)
    title = f"panel {uuid.uuid4().hex[:8]}"
    first = run_import(ImportOptions(str(class_folder), title), settings=settings)
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    config = client.projects.get(id=first.project_id).label_config
    client.projects.update(id=first.project_id, label_config=with_review_control(config, "image"))
    assert has_evidence_panel(client.projects.get(id=first.project_id).label_config)

    more = ls_files_root / f"more {uuid.uuid4().hex[:6]}" / "cat"
    more.mkdir(parents=True)
    from PIL import Image  # new content: the same photo, mirrored

    mirrored = Image.open(class_folder / "person" / "astronaut.bmp").transpose(0)
    mirrored.save(more / "astronaut-mirrored.png")
    second = run_import(ImportOptions(str(more.parent), title), settings=settings)

    assert (second.project_id, second.imported) == (first.project_id, 1)
    (new,) = [
        t for t in _tasks(label_studio, first.project_id) if "more " in t["data"]["winnow_source"]
    ]
    assert new["data"]["winnow_evidence"] == ""
