"""Finding 13 (data): no credentials in exports, no admin password on the terminal.

The attack: an S3 prefix is imported into a real Label Studio with ``--s3-mode presign``, so
every task holds a URL carrying the access key id and a signature. The project is exported;
anyone who receives the export must not find the key id or a signature in any file (the
manifest, ``exclusions.csv``, the shards' metadata, the card). And ``winnow up`` must say
where the admin password is, not print it."""

from __future__ import annotations

import uuid
from pathlib import Path

import boto3
import pandas as pd
import pytest
from pydantic import SecretStr

from sync.export.plan import ExportOptions
from sync.export.redact import redact_url
from sync.export.sources import export_project
from sync.importing.job import ImportOptions, run_import
from sync.stack.cli import up_lines
from tests.conftest import start_seaweedfs
from tests.sync.export.conftest import write_crops
from winnow.config import ImageIOSettings, LabelStudioSettings, S3Settings, get_settings
from winnow.services import LabelStudio
from winnow.services.label_studio import CREDENTIALS_FILE
from winnow.services.seaweedfs import SeaweedFS

pytestmark = pytest.mark.integration
ACCESS_KEY = "AKIAWINNOWLEAKTEST01"  # distinctive, so a hit in the export is a real leak


@pytest.fixture
def weed(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = start_seaweedfs(tmp_path / "weed", access_key=ACCESS_KEY)
    try:
        yield server
    finally:
        server.stop()


def _upload_set(server: SeaweedFS, folder: Path) -> str:
    """Class folders under ``sets/pets/``."""
    bucket = server.create_bucket(f"secrets-{uuid.uuid4().hex[:8]}")
    client = server.client()
    for path in sorted(folder.rglob("*.jpg")):
        key = f"sets/pets/{path.parent.name}/{path.name}"
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    return bucket


def test_presigned_task_urls_leave_no_credentials_in_the_export(
    tmp_path: Path, label_studio: LabelStudio, weed: SeaweedFS
) -> None:
    folder = tmp_path / "crops"
    write_crops(folder, per_class=3)
    bucket = _upload_set(weed, folder)
    settings = get_settings(
        data_dir=tmp_path / "data",
        label_studio=LabelStudioSettings(
            url=label_studio.url, api_key=SecretStr(label_studio.api_key)
        ),
        s3=S3Settings(
            endpoint_url=weed.endpoint_url,
            access_key_id=SecretStr(weed.access_key),
            secret_access_key=SecretStr(weed.secret_key),
        ),
        io=ImageIOSettings(allowed_hosts=["127.0.0.1"], http_retries=1),
        features={"workers": 0},
    )
    opts = ImportOptions(
        f"s3://{bucket}/sets/pets", f"presign {uuid.uuid4().hex[:6]}", s3_mode="presign"
    )
    summary = run_import(opts, settings=settings)
    assert summary.imported == 12
    tasks = label_studio_tasks(label_studio, summary.project_id)
    assert all("X-Amz-Credential" in t["data"]["image"] for t in tasks)  # the attack is set
    signatures = [t["data"]["image"].rsplit("X-Amz-Signature=", 1)[1][:64] for t in tasks]

    # one image goes missing: its task lands in exclusions.csv, presigned URL and all
    weed.client().delete_object(Bucket=bucket, Key="sets/pets/rocket/rocket_0.jpg")
    out = tmp_path / "out"
    result = export_project(
        settings,
        summary.project_id,
        str(out),
        options=ExportOptions(formats=("folders", "manifest", "webdataset")),
    )

    assert len(result.manifest) == 11 and len(result.excluded) == 1
    files = [p for p in (out / "v1.0").rglob("*") if p.is_file()]
    assert len(files) > 12
    for path in files:
        data = path.read_bytes()
        assert ACCESS_KEY.encode() not in data, path
        assert b"X-Amz-" not in data and b"x-amz-" not in data, path
        assert not [s for s in signatures if s.encode() in data], path
    excluded = pd.read_csv(out / "v1.0/exclusions.csv")
    # the row is still there, with a usable, credential-free address
    assert excluded["image"].str.startswith(f"{weed.endpoint_url}/{bucket}/sets/pets/").all()
    assert excluded["image"].str.endswith("rocket/rocket_0.jpg").all()
    assert excluded["reason"].tolist() == ["unreadable"]


def label_studio_tasks(ls: LabelStudio, project: int) -> list[dict]:
    import httpx

    response = httpx.get(
        f"{ls.url}/api/tasks",
        params={"project": project, "fields": "all", "page_size": 1000, "resolve_uri": "false"},
        headers=ls.auth_headers,
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["tasks"]


def test_redaction_keeps_the_address_and_drops_every_credential() -> None:
    client = boto3.client(
        "s3",
        endpoint_url="https://s3.example.org",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key="secret",
        region_name="us-east-1",
    )
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": "b", "Key": "a b/c.jpg"}, ExpiresIn=60
    )
    assert ACCESS_KEY in url
    assert redact_url(url) == "https://s3.example.org/b/a%20b/c.jpg"
    assert redact_url("https://user:pw@host/x.png?size=2&sig=abc") == "https://host/x.png?size=2"
    local = "/data/local-files/?d=pets/cat/1.png"
    assert redact_url(local) == local  # Label Studio's own address needs its parameter
    assert redact_url("s3://bucket/key.jpg") == "s3://bucket/key.jpg"


def test_winnow_up_names_the_password_file_not_the_password(label_studio: LabelStudio) -> None:
    lines = up_lines(label_studio, "http://127.0.0.1:9", "http://127.0.0.1:8", "http://127.0.0.1:7")
    text = "\n".join(f"{name} {value}" for name, value in lines)
    assert label_studio.password and label_studio.password not in text
    where = label_studio.data_dir / CREDENTIALS_FILE
    assert str(where) in text
    assert label_studio.password in where.read_text()  # the operator can still find it there
    assert where.stat().st_mode & 0o077 == 0  # and only the operator
