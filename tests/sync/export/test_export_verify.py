"""Checksums and --verify catch tampering; a failed export leaves no version behind."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from sync.export.job import export_dataset
from sync.export.plan import ExportOptions
from sync.export.target_local import LOCK_FILE
from sync.export.targets import next_version
from sync.export.verify import verify_export
from winnow.errors import ConfigError


def _export(records, root, settings, resolve, **kwargs):
    options = ExportOptions(formats=("folders", "webdataset"))
    return export_dataset(
        records, str(root), settings=settings, resolve=resolve, options=options, **kwargs
    )


@pytest.fixture
def published(records, tmp_path, settings, resolve):
    _export(records, tmp_path / "out", settings, resolve)
    return tmp_path / "out"


def test_fresh_export_verifies_and_sha256sum_agrees(published, settings) -> None:
    report = verify_export(str(published), settings)
    manifest = json.loads((published / "v1.0/_MANIFEST.json").read_text())
    assert report.ok and report.version == "1.0"
    assert report.files_checked == len(manifest["files"]) > 40
    check = subprocess.run(
        ["sha256sum", "--check", "--quiet", "checksums.sha256"],
        cwd=published / "v1.0",
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_tampering_is_detected(published, settings) -> None:
    version = published / "v1.0"
    image = next(version.glob("train/*/*.jpg"))
    data = bytearray(image.read_bytes())
    data[-10] ^= 0xFF  # same size, different bytes
    image.write_bytes(bytes(data))
    shard = next(version.glob("shards/*.tar"))
    shard.unlink()
    (version / "train" / "extra.jpg").write_bytes(b"not ours")
    report = verify_export(str(version), settings)
    assert not report.ok
    rel = image.relative_to(version).as_posix()
    assert f"{rel}: sha256 does not match (changed or corrupt)" in report.problems
    assert f"shards/{shard.name}: missing" in report.problems
    assert "train/extra.jpg: not listed in the manifest" in report.problems


def test_edited_checksums_file_is_caught(published, settings) -> None:
    sums = published / "v1.0/checksums.sha256"
    lines = sums.read_text().splitlines()
    lines[0] = "0" * 64 + lines[0][64:]
    sums.write_text("\n".join(lines) + "\n")
    problems = verify_export(str(published), settings).problems
    assert any("checksums.sha256 and _MANIFEST.json disagree" in p for p in problems)
    assert "checksums.sha256: sha256 does not match (changed or corrupt)" in problems


def test_failed_export_leaves_nothing_visible(records, tmp_path, settings, resolve) -> None:
    calls = {"n": 0}

    def flaky(row):
        calls["n"] += 1
        if calls["n"] == 20:
            raise OSError("disk went away")
        return resolve(row)

    with pytest.raises(OSError, match="disk went away"):
        _export(records, tmp_path / "out", settings, flaky)
    left = [p.name for p in (tmp_path / "out").iterdir()]
    assert left == [LOCK_FILE]  # no version, no staging left; the (released) lock file stays
    report = verify_export(str(tmp_path / "out"), settings)
    assert report.problems == [f"no published version under {tmp_path / 'out'}"]


def test_unreadable_and_changed_images_are_excluded(records, tmp_path, settings, resolve) -> None:
    frame = records.copy()
    gone = tmp_path / "gone.jpg"
    shutil.copy(frame.loc[0, "image"], gone)
    frame.loc[0, "image"] = str(gone)
    gone.unlink()
    frame.loc[1, "sha256"] = "0" * 64  # the bytes no longer match what was audited
    result = _export(frame, tmp_path / "out", settings, resolve)
    reasons = result.excluded.set_index("task_id")["reason"]
    assert reasons[1] == "unreadable" and reasons[2] == "changed"
    assert len(result.manifest) == len(frame) - 2


def test_versions_are_numbered_and_never_overwritten(published, records, settings, resolve) -> None:
    assert next_version([]) == "1.0" and next_version(["1.0", "1.9", "1.10"]) == "1.11"
    with pytest.raises(ConfigError, match="already published"):
        _export(records, published, settings, resolve, version="1.0")
    assert _export(records, published, settings, resolve).version == "1.1"
    assert _export(records, published, settings, resolve, version="2.0").version == "2.0"
    assert verify_export(str(published), settings).version == "2.0"
    with pytest.raises(ConfigError, match="major.minor"):
        _export(records, published, settings, resolve, version="v3")
