"""Finding 12: published files are fsynced before their rename, and status/registry files are
replaced atomically through one helper (``winnow.atomic.write_atomic``).

The crash is real where it can be: a writer process is SIGKILLed halfway through a write.
Where the crash must land at one exact point (after the bytes, before they are durable), the
disk "fails" there: ``os.fsync`` raises, and the old file must be intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ml_backend.rank import Checkpoint
from ml_backend.training.status import ProjectStatus
from sync.export.job import export_dataset
from sync.export.plan import ExportOptions
from sync.importing.url_list import save_content
from tests.sync.export.conftest import records_of, write_crops
from winnow.atomic import write_atomic
from winnow.config import ImageIOSettings, get_settings
from winnow.imageio import ImageReader
from winnow.learn.registry import ModelRegistry

WRITER = """
import sys, time
from winnow.atomic import write_atomic

def chunks():
    yield b"NEW" * 100_000
    print("halfway", flush=True)
    time.sleep(120)
    yield b"END"

write_atomic(sys.argv[1], chunks())
"""


def test_writer_killed_halfway_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "status.json"
    target.write_text('{"version": "old"}')
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "halfway"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert target.read_text() == '{"version": "old"}'  # a reader never sees half a file


def test_a_write_that_raises_midway_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "meta.json"
    target.write_text("old")

    def chunks():
        yield b"half of the new"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, chunks())
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"]


@pytest.fixture
def power_cut(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``os.fsync`` fails like a disk that lost power; returns the paths it was called on."""
    seen: list[str] = []

    def fsync(fd: int) -> None:
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        raise OSError("simulated power cut before the data was durable")

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


def _call_sites(root: Path) -> dict[str, tuple[Path, callable]]:  # type: ignore[valid-type]
    """Each file a crash must never leave half-written, and the public call that writes it."""
    registry = ModelRegistry(root / "models")
    (root / "models/3/v1").mkdir(parents=True)
    (root / "models/3/v1/meta.json").write_text("{}")
    return {
        "status.json": (
            root / "models/3/status.json",
            lambda: ProjectStatus(root / "models").save(3, {"version": "new"}),
        ),
        "current.json": (
            root / "models/3/current.json",
            lambda: registry.promote(3, "v1"),
        ),
        "rank checkpoint": (
            root / "rank/3.json",
            lambda: Checkpoint(root / "rank", 3).mark("v1", 99),
        ),
        "downloaded image": (
            root / "dl/ab/ab12.png",
            lambda: save_content(root / "dl", "ab12", "PNG", b"\x89PNG new bytes"),
        ),
    }


@pytest.mark.parametrize(
    "site", ["status.json", "current.json", "rank checkpoint", "downloaded image"]
)
def test_call_sites_keep_the_old_file_when_the_disk_fails(
    site: str, tmp_path: Path, power_cut: list[str]
) -> None:
    path, write = _call_sites(tmp_path)[site]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'{"old": true}')
    with pytest.raises(OSError, match="simulated power cut"):
        write()
    assert path.read_bytes() == b'{"old": true}'
    assert power_cut, f"{site} was replaced without an fsync"
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_call_sites_write_complete_files(tmp_path: Path) -> None:
    sites = _call_sites(tmp_path)
    for _path, write in sites.values():
        write()
    assert json.loads(sites["status.json"][0].read_text()) == {"version": "new"}
    assert json.loads(sites["current.json"][0].read_text()) == {"version": "v1"}
    assert json.loads(sites["rank checkpoint"][0].read_text()) == {"v1": 99}
    assert oct(sites["downloaded image"][0].stat().st_mode & 0o777) == oct(0o644)


def test_local_export_fsyncs_every_file_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "crops"
    write_crops(folder, per_class=3)
    synced: set[str] = set()
    real_fsync, real_rename = os.fsync, os.rename
    checked: list[int] = []

    def fsync(fd: int) -> None:
        synced.add(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def rename(src: str | Path, dst: str | Path) -> None:
        if Path(src).name.startswith(".staging-v"):
            files = [str(p) for p in Path(src).rglob("*") if p.is_file()]
            assert files and set(files) <= synced, sorted(set(files) - synced)[:5]
            assert str(src) in synced  # the directory entries too
            checked.append(len(files))
        real_rename(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    reader = ImageReader(ImageIOSettings(local_roots=[tmp_path]))
    result = export_dataset(
        records_of(folder),
        str(tmp_path / "out"),
        settings=get_settings(data_dir=tmp_path / "data"),
        resolve=lambda row: reader.read(str(row["image"])),
        options=ExportOptions(formats=("folders", "manifest", "webdataset")),
    )
    assert checked == [result.files + 1]  # one publish: every listed file + _MANIFEST.json
    assert str(tmp_path / "out") in synced  # and the rename itself
