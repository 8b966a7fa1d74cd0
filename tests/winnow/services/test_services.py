"""The real local services behave as Winnow relies on: S3 checks signatures and stores bytes;
Label Studio accepts our token and serves local files only to token holders."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError
from label_studio_sdk import LabelStudio as LSClient

from winnow.services import LabelStudio, SeaweedFS

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <Choices name="label" toName="image"><Choice value="cat"/><Choice value="other"/></Choices>
</View>"""


@pytest.fixture(scope="module")
def chelsea_png(real_images_dir: Path) -> bytes:
    return (real_images_dir / "chelsea.png").read_bytes()


def _error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


# -- SeaweedFS --------------------------------------------------------------------------


def test_seaweedfs_stores_and_returns_object_bytes(seaweedfs: SeaweedFS, chelsea_png: bytes):
    bucket = seaweedfs.create_bucket(f"roundtrip-{uuid.uuid4().hex[:8]}")
    s3 = seaweedfs.client()
    s3.put_object(Bucket=bucket, Key="cats/chelsea.png", Body=chelsea_png)

    got = s3.get_object(Bucket=bucket, Key="cats/chelsea.png")["Body"].read()
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="cats/")["Contents"]

    assert got == chelsea_png
    assert [(o["Key"], o["Size"]) for o in listed] == [("cats/chelsea.png", len(chelsea_png))]
    assert bucket in {b["Name"] for b in s3.list_buckets()["Buckets"]}


def test_seaweedfs_refuses_a_wrong_secret(seaweedfs: SeaweedFS, chelsea_png: bytes):
    bucket = seaweedfs.create_bucket(f"auth-{uuid.uuid4().hex[:8]}")
    seaweedfs.client().put_object(Bucket=bucket, Key="kept.png", Body=chelsea_png)
    forged = seaweedfs.client(secret_key="not-" + seaweedfs.secret_key)

    with pytest.raises(ClientError) as read:
        forged.get_object(Bucket=bucket, Key="kept.png")
    with pytest.raises(ClientError) as write:
        forged.put_object(Bucket=bucket, Key="forged.png", Body=b"x")

    assert _error_code(read) == "SignatureDoesNotMatch"
    assert _error_code(write) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as missing:
        seaweedfs.client().head_object(Bucket=bucket, Key="forged.png")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_seaweedfs_keeps_objects_across_a_restart(tmp_path: Path, chelsea_png: bytes):
    with SeaweedFS(tmp_path / "weed") as first:
        first.create_bucket("durable")
        first.client().put_object(Bucket="durable", Key="a.png", Body=chelsea_png)
    assert not first.running

    with SeaweedFS(tmp_path / "weed") as second:  # new ports, new secret, same data
        assert second.endpoint_url != first.endpoint_url
        got = second.client().get_object(Bucket="durable", Key="a.png")["Body"].read()
    assert got == chelsea_png


# -- Label Studio -----------------------------------------------------------------------


def _project_with_local_storage(client: LSClient, root: Path) -> int:
    project = client.projects.create(
        title=f"services-{uuid.uuid4().hex[:8]}", label_config=LABEL_CONFIG
    )
    client.import_storage.local.create(project=project.id, path=str(root), use_blob_urls=True)
    return project.id


def test_label_studio_serves_local_files_to_token_holders_only(
    label_studio: LabelStudio, ls_files_root: Path, chelsea_png: bytes
):
    folder = ls_files_root / f"set-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "chelsea.png").write_bytes(chelsea_png)
    url = f"/data/local-files/?d={folder.name}/chelsea.png"
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    project_id = _project_with_local_storage(client, folder)

    client.projects.import_tasks(id=project_id, request=[{"data": {"image": url}}])
    tasks = list(client.tasks.list(project=project_id))
    served = httpx.get(label_studio.url + url, headers=label_studio.auth_headers)
    anonymous = httpx.get(label_studio.url + url)

    assert [t.data["image"] for t in tasks] == [url]
    assert served.status_code == 200
    assert served.content == chelsea_png
    assert anonymous.status_code == 401
    assert anonymous.content != chelsea_png


def test_label_studio_refuses_files_outside_any_storage(
    label_studio: LabelStudio, ls_files_root: Path, chelsea_png: bytes
):
    stray = ls_files_root / f"stray-{uuid.uuid4().hex[:8]}"
    stray.mkdir()
    (stray / "chelsea.png").write_bytes(chelsea_png)

    response = httpx.get(
        f"{label_studio.url}/data/local-files/?d={stray.name}/chelsea.png",
        headers=label_studio.auth_headers,
    )

    assert response.status_code == 404
    assert response.content != chelsea_png


def test_label_studio_from_template_uses_its_own_token(
    label_studio: LabelStudio, label_studio_factory
):
    """A template copy keeps the template's token unless re-keyed: each server has its own."""
    other = label_studio_factory()

    own = httpx.get(f"{other.url}/api/projects", headers=other.auth_headers)
    foreign = httpx.get(f"{other.url}/api/projects", headers=label_studio.auth_headers)

    assert other.api_key != label_studio.api_key
    assert own.status_code == 200
    assert own.json()["count"] == 0  # a fresh database, not the session server's
    assert foreign.status_code == 401
