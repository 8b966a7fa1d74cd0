"""Finding 10 (exports): two exports to one destination at the same time.

The attack: while one export is writing, a second ``winnow export`` (a real process) targets
the same destination. Before the fix both picked the same version, the second deleted the
first's staging directory, and on S3 both could publish. Now the second is refused with a
clear message, and the first publishes a complete version that verifies. On S3 the refusal
also works between processes that share no local lock file (as two hosts would), through
the lease object, and the manifest is created only if absent (If-None-Match: *), which
SeaweedFS honours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from pydantic import SecretStr

from sync.export.job import ExportResult, export_dataset
from sync.export.plan import ExportOptions
from sync.export.s3errors import translate
from sync.export.s3lock import LEASE, put_new
from sync.export.targets import open_target
from sync.export.verify import verify_export
from tests.sync.export.conftest import records_of, write_crops
from winnow.config import ImageIOSettings, S3Settings, Settings, get_settings
from winnow.imageio import ImageReader
from winnow.locks import LockBusyError
from winnow.services.seaweedfs import SeaweedFS

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def crops(tmp_path: Path) -> Path:
    folder = tmp_path / "crops"
    write_crops(folder, per_class=4)
    return folder


def _s3(server: SeaweedFS) -> S3Settings:
    return S3Settings(
        endpoint_url=server.endpoint_url,
        access_key_id=SecretStr(server.access_key),
        secret_access_key=SecretStr(server.secret_key),
    )


def _start_blocked_export(
    crops: Path, dest: str, settings: Settings
) -> tuple[Future[ExportResult], threading.Event, ThreadPoolExecutor]:
    """Export A, paused at its first image (holding whatever lock it took) until released."""
    reader = ImageReader(ImageIOSettings(local_roots=[crops]))
    started, release = threading.Event(), threading.Event()

    def resolve(row: pd.Series) -> bytes:
        started.set()
        assert release.wait(120), "export A was never released"
        return reader.read(str(row["image"]))

    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(
        export_dataset,
        records_of(crops),
        dest,
        settings=settings,
        resolve=resolve,
        options=ExportOptions(formats=("folders", "manifest", "webdataset")),
    )
    assert started.wait(60), "export A did not start writing"
    return future, release, pool


def _cli_export(crops: Path, dest: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """Export B: the real ``winnow export`` command in its own process."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WINNOW_")}
    environ |= {"WINNOW_DATA_DIR": str(data_dir), "COLUMNS": "500", **env}  # no wrapping
    return subprocess.run(
        [sys.executable, "-m", "winnow", "export", "--dir", str(crops), "--out", dest]
        + ["--no-embed", "--format", "folders"],
        capture_output=True,
        text=True,
        env=environ,
        cwd=REPO,
        timeout=300,
    )


def _assert_refused(run: subprocess.CompletedProcess, lock_name: str) -> None:
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "is already running" in output and lock_name in output, output
    assert "Traceback" not in output  # a clean message, not a crash


def _finish(future: Future, release: threading.Event, pool: ThreadPoolExecutor) -> ExportResult:
    release.set()
    try:
        return future.result(timeout=300)
    finally:
        pool.shutdown()


def test_second_local_export_is_refused_and_first_stays_intact(crops: Path, tmp_path: Path) -> None:
    dest = tmp_path / "out"
    settings = get_settings(data_dir=tmp_path / "data-a")
    future, release, pool = _start_blocked_export(crops, str(dest), settings)
    try:
        staging = [p.name for p in dest.iterdir() if p.name.startswith(".staging-")]
        run = _cli_export(crops, str(dest), tmp_path / "data-b")
        _assert_refused(run, ".winnow-export.lock")
        # the refused run touched nothing of A's: its staging directory is still there
        assert [p.name for p in dest.iterdir() if p.name.startswith(".staging-")] == staging
        with pytest.raises(LockBusyError):  # and a second thread in this process alike
            export_dataset(records_of(crops), str(dest), settings=settings, resolve=lambda row: b"")
    finally:
        result = _finish(future, release, pool)
    assert result.version == "1.0"
    report = verify_export(str(dest), settings)
    assert report.ok, report.problems
    assert report.files_checked == result.files
    assert open_target(str(dest), settings).versions() == ["1.0"]
    assert not [p for p in dest.iterdir() if p.name.startswith(".staging-")]
    # the lock went with the run: the next export goes through
    assert _cli_export(crops, str(dest), tmp_path / "data-b").returncode == 0
    assert open_target(str(dest), settings).versions() == ["1.0", "1.1"]


def test_second_s3_export_from_another_host_is_refused(
    crops: Path, tmp_path: Path, seaweedfs: SeaweedFS
) -> None:
    bucket = seaweedfs.create_bucket(f"locks-{uuid.uuid4().hex[:8]}")
    dest = f"s3://{bucket}/sets"
    settings = get_settings(data_dir=tmp_path / "data-a", s3=_s3(seaweedfs))
    future, release, pool = _start_blocked_export(crops, dest, settings)
    try:
        # B shares no local lock file with A (another data_dir, as on another host)
        run = _cli_export(
            crops,
            dest,
            tmp_path / "data-b",
            WINNOW_S3__ENDPOINT_URL=seaweedfs.endpoint_url,
            WINNOW_S3__ACCESS_KEY_ID=seaweedfs.access_key,
            WINNOW_S3__SECRET_ACCESS_KEY=seaweedfs.secret_key,
        )
        _assert_refused(run, f"s3://{bucket}/sets/{LEASE}")
        with pytest.raises(LockBusyError):  # same host, same data_dir: the local lock file
            export_dataset(records_of(crops), dest, settings=settings, resolve=lambda row: b"")
    finally:
        result = _finish(future, release, pool)
    report = verify_export(dest, settings)
    assert report.ok and report.files_checked == result.files, report.problems
    assert open_target(dest, settings).versions() == ["1.0"]
    keys = seaweedfs.client().list_objects_v2(Bucket=bucket, Prefix="sets/").get("Contents", [])
    assert f"sets/{LEASE}" not in {k["Key"] for k in keys}  # released


def test_manifest_put_is_create_only_on_seaweedfs(seaweedfs: SeaweedFS) -> None:
    """Eight exporters publish one version at once: exactly one manifest wins, and it stays."""
    bucket = seaweedfs.create_bucket(f"race-{uuid.uuid4().hex[:8]}")
    key = "sets/v1.0/_MANIFEST.json"

    def publish(i: int) -> bool:
        client = seaweedfs.client()

        def call(action: str, fn: Callable, *args, **kwargs):
            try:  # as the S3 target does: botocore errors become Winnow's, with the cause
                return fn(*args, **kwargs)
            except Exception as exc:
                raise translate(exc, action=action, endpoint="", bucket=bucket, attempts=1) from exc

        return put_new(call, client, bucket, key, json.dumps({"writer": i}).encode())

    with ThreadPoolExecutor(max_workers=8) as pool:
        wins = [i for i, won in enumerate(pool.map(publish, range(8))) if won]
    assert len(wins) == 1, wins
    stored = seaweedfs.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    assert json.loads(stored) == {"writer": wins[0]}


def _plant_lease(server: SeaweedFS, bucket: str, holder: dict) -> None:
    server.client().put_object(Bucket=bucket, Key=f"sets/{LEASE}", Body=json.dumps(holder))


def test_s3_lease_of_a_dead_run_is_taken_over_but_a_foreign_one_is_not(
    crops: Path, tmp_path: Path, seaweedfs: SeaweedFS
) -> None:
    import socket

    bucket = seaweedfs.create_bucket(f"lease-{uuid.uuid4().hex[:8]}")
    dest = f"s3://{bucket}/sets"
    settings = get_settings(data_dir=tmp_path / "data", s3=_s3(seaweedfs))
    reader = ImageReader(ImageIOSettings(local_roots=[crops]))
    records = records_of(crops)

    def export() -> ExportResult:
        return export_dataset(
            records, dest, settings=settings, resolve=lambda row: reader.read(str(row["image"]))
        )

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    _plant_lease(seaweedfs, bucket, {"host": socket.gethostname(), "pid": int(dead.stdout)})
    assert export().version == "1.0"  # a crashed run on this host does not block forever

    _plant_lease(seaweedfs, bucket, {"host": "other-host", "pid": 1, "since": 0})
    with pytest.raises(LockBusyError, match="PID 1 on other-host.*delete the lock object"):
        export()
    assert open_target(dest, settings).versions() == ["1.0"]
