"""`winnow doctor` against real servers: a real Label Studio and SeaweedFS pass, and each
kind of breakage (dead port, refused key, wrong secret, unwritable or incompatible data,
missing weights) fails with the fix named, and the exit code is 1."""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from winnow.cli.app import build_app
from winnow.config import Settings, get_settings
from winnow.doctor import CHECKS, run_checks
from winnow.services import LabelStudio, SeaweedFS
from winnow.store import FeatureStore

pytestmark = pytest.mark.integration


def dead_url() -> str:
    """A loopback URL where nothing listens (the port was just free)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_settings(tmp_path: Path, server: LabelStudio, store: SeaweedFS, **overrides) -> Settings:
    base = {
        "data_dir": tmp_path / "data",
        "label_studio": {"url": server.url, "api_key": SecretStr(server.api_key)},
        "s3": {
            "endpoint_url": store.endpoint_url,
            "access_key_id": SecretStr(store.access_key),
            "secret_access_key": SecretStr(store.secret_key),
        },
    }
    for section, values in overrides.items():
        base[section] = {**base.get(section, {}), **values} if isinstance(values, dict) else values
    return get_settings(**base)


def by_name(settings: Settings) -> dict[str, tuple[str, str, str]]:
    return {c.name: (c.status, c.detail, c.fix) for c in run_checks(settings)}


def test_a_working_deployment_passes_every_check(tmp_path, label_studio, seaweedfs, monkeypatch):
    seaweedfs.create_bucket("doctor-ok")
    for key in [k for k in os.environ if k.startswith("WINNOW_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    env = {
        "WINNOW_DATA_DIR": str(tmp_path / "data"),
        "WINNOW_LABEL_STUDIO__URL": label_studio.url,
        "WINNOW_LABEL_STUDIO__API_KEY": label_studio.api_key,
        "WINNOW_S3__ENDPOINT_URL": seaweedfs.endpoint_url,
        "WINNOW_S3__ACCESS_KEY_ID": seaweedfs.access_key,
        "WINNOW_S3__SECRET_ACCESS_KEY": seaweedfs.secret_key,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(build_app(), ["doctor"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert result.output.count(" OK ") == len(CHECKS)
    checks = by_name(get_settings())
    assert "API key accepted" in checks["label-studio"][1]
    assert "credentials accepted" in checks["s3"][1] and "bucket" in checks["s3"][1]
    assert "efficientnet" in checks["weights"][1].lower()


def test_dead_ports_fail_with_the_fix(tmp_path, label_studio, seaweedfs):
    url = dead_url()
    settings = make_settings(
        tmp_path,
        label_studio,
        seaweedfs,
        label_studio={"url": url},
        s3={"endpoint_url": url},
        index={"url": url},
    )
    checks = by_name(settings)
    assert checks["label-studio"][0] == "FAIL" and "unreachable" in checks["label-studio"][1]
    assert "WINNOW_LABEL_STUDIO__URL" in checks["label-studio"][2]
    assert checks["s3"][0] == "FAIL" and "WINNOW_S3__ENDPOINT_URL" in checks["s3"][2]
    assert checks["index"][0] == "FAIL" and "Qdrant unreachable" in checks["index"][1]
    assert checks["data-dir"][0] == "OK"  # one broken service does not hide the rest


def test_refused_keys_fail_with_the_fix(tmp_path, label_studio, seaweedfs, web_server):
    qdrant = web_server.serve(
        "/collections", b'{"status":"forbidden"}', content_type="application/json", status=403
    )
    settings = make_settings(
        tmp_path,
        label_studio,
        seaweedfs,
        label_studio={"api_key": SecretStr("0" * 40)},
        s3={"secret_access_key": SecretStr("not-the-secret")},
        index={"url": qdrant.removesuffix("/collections"), "api_key": SecretStr("wrong")},
    )
    checks = by_name(settings)
    assert checks["label-studio"][:2] == ("FAIL", "Label Studio refused the API key (HTTP 401)")
    assert checks["s3"][0] == "FAIL" and "SignatureDoesNotMatch" in checks["s3"][1]
    assert checks["index"][0] == "FAIL" and "WINNOW_INDEX__API_KEY" in checks["index"][2]


def test_cli_exits_1_and_names_the_failed_check(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINNOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WINNOW_LABEL_STUDIO__URL", dead_url())
    monkeypatch.setenv("WINNOW_LABEL_STUDIO__API_KEY", "a" * 40)
    app = build_app()
    failed = CliRunner().invoke(app, ["doctor", "--check", "label-studio"], terminal_width=200)
    assert failed.exit_code == 1 and "1 check(s) failed: label-studio" in failed.output
    passed = CliRunner().invoke(app, ["doctor", "-c", "data-dir"], terminal_width=200)
    assert passed.exit_code == 0 and "label-studio" not in passed.output
    unknown = CliRunner().invoke(app, ["doctor", "-c", "nope"])
    assert unknown.exit_code == 2


def test_data_dir_problems_are_found(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    checks = by_name(get_settings(data_dir=blocker / "data"))
    assert checks["data-dir"][0] == "FAIL" and "not writable" in checks["data-dir"][1]
    assert checks["index"][0] == "FAIL"  # the embedded index lives there too
    old = tmp_path / "old"
    FeatureStore(old / "features.sqlite").close()
    with sqlite3.connect(old / "features.sqlite") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    status, detail, fix = by_name(get_settings(data_dir=old))["data-dir"]
    assert status == "FAIL" and "schema version 99" in detail and "WINNOW_DATA_DIR" in fix


def test_missing_weights_are_found(tmp_path):
    settings = get_settings(data_dir=tmp_path, embedding={"backbone_weights": tmp_path / "x.pth"})
    status, detail, fix = by_name(settings)["weights"]
    assert status == "FAIL" and "x.pth" in detail and "BACKBONE_WEIGHTS" in fix
    embedding = {"kind": "clip", "clip_cache_dir": tmp_path / "empty"}
    clip = get_settings(data_dir=tmp_path, embedding=embedding)
    status, detail, fix = by_name(clip)["weights"]
    assert status == "FAIL" and "not in the cache" in detail and "CLIP_CHECKPOINT" in fix


@pytest.mark.skipif("QDRANT_URL" not in os.environ, reason="set QDRANT_URL to a Qdrant server")
def test_a_real_qdrant_server_passes(tmp_path):
    key = os.environ.get("QDRANT_API_KEY")
    index = {"url": os.environ["QDRANT_URL"], "api_key": SecretStr(key) if key else None}
    status, detail, _ = by_name(get_settings(data_dir=tmp_path, index=index))["index"]
    assert status == "OK" and "Qdrant at" in detail
