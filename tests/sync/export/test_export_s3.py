"""Export to a real SeaweedFS S3: publish and verify, clear errors for a wrong secret and a
missing bucket, and a server killed mid-upload: nothing half-published, then a resume."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pydantic import SecretStr
from skimage import data as photos

from sync.export.job import export_dataset
from sync.export.plan import ExportOptions
from sync.export.s3lock import LEASE
from sync.export.targets import open_target
from sync.export.verify import verify_export
from tests.conftest import start_seaweedfs
from winnow.config import S3Settings, Settings, get_settings
from winnow.errors import ConfigError, ServiceError
from winnow.services.seaweedfs import SeaweedFS

pytestmark = pytest.mark.integration
OPTIONS = ExportOptions(formats=("folders", "webdataset"))


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """24 real-photo PNGs of about 0.4 MB (enough for a multipart shard), in 4 classes."""
    folder = tmp_path_factory.mktemp("s3-photos")
    rng = np.random.default_rng(0)
    rows = []
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        pixels = np.asarray(Image.fromarray(getattr(photos, name)()).convert("RGB"))
        h, w = pixels.shape[:2]
        for i in range(6):
            y, x = rng.integers(0, h // 4), rng.integers(0, w // 4)
            image = Image.fromarray(pixels[y : y + 3 * h // 4, x : x + 3 * w // 4])
            path = folder / f"{name}_{i}.png"
            image.resize((560, 480)).save(path)
            rows.append(
                {
                    "task_id": len(rows) + 1,
                    "image": str(path),
                    "labels": [name],
                    "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                    "width": 560,
                    "height": 480,
                    "licence": "public domain",
                }
            )
    return pd.DataFrame(rows)


def _resolve(row: pd.Series) -> bytes:
    return Path(row["image"]).read_bytes()


def _settings(
    tmp_path: Path, server: SeaweedFS, *, secret: str | None = None, attempts: int = 3
) -> Settings:
    s3 = S3Settings(
        endpoint_url=server.endpoint_url,
        access_key_id=SecretStr(server.access_key),
        secret_access_key=SecretStr(secret or server.secret_key),
    )
    return get_settings(
        data_dir=tmp_path / "data", s3=s3, export={"multipart_mb": 5, "s3_attempts": attempts}
    )


def _export(records: pd.DataFrame, dest: str, settings: Settings, **kwargs):
    return export_dataset(
        records, dest, settings=settings, resolve=_resolve, options=OPTIONS, **kwargs
    )


def test_export_to_s3_then_verify(records, seaweedfs, tmp_path) -> None:
    settings = _settings(tmp_path, seaweedfs)
    bucket = seaweedfs.create_bucket(f"exports-{uuid.uuid4().hex[:8]}")
    dest = f"s3://{bucket}/sets/photos"
    result = _export(records, dest, settings)
    assert result.url == f"{dest}/v1.0" and len(result.manifest) == 24
    report = verify_export(dest, settings)
    assert report.ok, report.problems
    assert report.files_checked == result.files
    client = seaweedfs.client()
    manifest = json.loads(
        client.get_object(Bucket=bucket, Key="sets/photos/v1.0/_MANIFEST.json")["Body"].read()
    )
    shard = "shards/train-000000.tar"
    head = client.head_object(Bucket=bucket, Key=f"sets/photos/v1.0/{shard}")
    assert manifest["files"][shard]["size"] > 5 * 1024 * 1024
    assert head["ETag"].strip('"').endswith("-2")  # uploaded in two 5 MB parts
    assert head["Metadata"]["sha256"] == manifest["files"][shard]["sha256"]
    assert _export(records, dest, settings).version == "1.1"  # the next export, next minor

    image = next(n for n in manifest["files"] if n.startswith("train/"))
    key = f"sets/photos/v1.0/{image}"
    body = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    body[-100] ^= 0xFF
    client.put_object(Bucket=bucket, Key=key, Body=bytes(body))
    tampered = verify_export(f"{dest}/v1.0", settings)
    assert tampered.problems == [f"{image}: sha256 does not match (changed or corrupt)"]


def test_wrong_secret_names_the_setting(records, seaweedfs, tmp_path) -> None:
    settings = _settings(tmp_path, seaweedfs, secret="not-the-secret-key")
    bucket = seaweedfs.create_bucket("exports-secret")
    with pytest.raises(ConfigError, match=r"refused the secret key.*s3\.secret_access_key"):
        _export(records, f"s3://{bucket}/x", settings)
    with pytest.raises(ConfigError, match="WINNOW_S3__SECRET_ACCESS_KEY"):
        verify_export(f"s3://{bucket}/x", settings)


def test_unknown_access_key_names_the_setting(records, seaweedfs, tmp_path) -> None:
    settings = _settings(tmp_path, seaweedfs)
    s3 = settings.s3.model_copy(update={"access_key_id": SecretStr("nobody-we-know")})
    settings = settings.model_copy(update={"s3": s3})
    with pytest.raises(ConfigError, match=r"does not know the access key id.*s3\.access_key_id"):
        _export(records, f"s3://{seaweedfs.create_bucket('exports-key')}/x", settings)


def test_missing_bucket_is_named(records, seaweedfs, tmp_path) -> None:
    settings = _settings(tmp_path, seaweedfs)
    with pytest.raises(ConfigError, match="bucket 'no-such-bucket' does not exist"):
        _export(records, "s3://no-such-bucket/x", settings)


def _killing_progress(server: SeaweedFS, after: int):
    """A progress factory that kills the server once ``after`` files are uploaded."""

    @contextmanager
    def progress(description: str, total: int) -> Iterator:
        done = [0]

        def advance(n: int = 1) -> None:
            done[0] += n
            if description == "publish" and done[0] == after:
                os.killpg(server.pid, signal.SIGKILL)  # its own process group, started here

        yield advance

    return progress


def test_server_killed_mid_upload_resumes(records, tmp_path) -> None:
    server = start_seaweedfs(tmp_path / "weed")
    try:
        settings = _settings(tmp_path, server, attempts=2)
        bucket = server.create_bucket("resume")
        dest = f"s3://{bucket}/photos"
        with pytest.raises(ServiceError, match="run the same command again to resume"):
            _export(records, dest, settings, progress=_killing_progress(server, after=8))
        server.stop()  # reap the killed process group
        server.start()  # same ports, same data directory
        assert open_target(dest, settings).versions() == []
        report = verify_export(dest, settings, version="1.0")
        assert report.problems[0].startswith("version 1.0 is not published: no _MANIFEST.json")
        listed = server.client().list_objects_v2(Bucket=bucket, Prefix="photos/")
        before = {o["Key"]: o["LastModified"] for o in listed.get("Contents", [])}
        assert len(before) >= 8 and not any(k.endswith("_MANIFEST.json") for k in before)

        result = _export(records, dest, settings)
        assert result.version == "1.0"
        assert verify_export(dest, settings).ok
        listed = server.client().list_objects_v2(Bucket=bucket, Prefix="photos/")
        after = {o["Key"]: o["LastModified"] for o in listed["Contents"]}
        # the lease left by the killed run was taken over (same process, run no longer held)
        assert f"photos/{LEASE}" in before and f"photos/{LEASE}" not in after
        stable = [
            k for k in before if not k.endswith(("DATASET_CARD.md", "checksums.sha256", LEASE))
        ]
        assert stable and all(after[k] == before[k] for k in stable)  # skipped, not re-sent
    finally:
        server.stop()
