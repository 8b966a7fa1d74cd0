"""`winnow import` refuses bad input before it touches Label Studio, with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.importing.job import ImportOptions, run_import
from winnow.cli.app import build_app
from winnow.config import LabelStudioSettings, get_settings
from winnow.errors import ConfigError

APP = build_app()


@pytest.fixture
def no_label_studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings with no API key: reaching Label Studio would fail with a different error."""
    monkeypatch.chdir(tmp_path)
    for key in list(__import__("os").environ):
        if key.startswith("WINNOW_"):
            monkeypatch.delenv(key)
    return get_settings(data_dir=tmp_path / "data")


def test_cli_reports_a_missing_source_and_a_bad_choice(no_label_studio, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(APP, ["import", str(tmp_path / "nope"), "--project", "abc"])
    assert missing.exit_code == 1
    bad = runner.invoke(APP, ["import", str(tmp_path), "--project", "abc", "--task", "segment"])
    assert bad.exit_code == 2 and "classification, detection" in bad.output


def test_several_labels_need_multi_label(no_label_studio, tmp_path: Path) -> None:
    path = tmp_path / "urls.jsonl"
    path.write_text(json.dumps({"url": "https://a.org/x.jpg", "labels": ["cat", "dog"]}) + "\n")
    opts = ImportOptions(str(path), "multi", url_mode="link")
    with pytest.raises(ConfigError, match="--multi-label"):
        run_import(opts, settings=no_label_studio)


def test_copy_mode_needs_a_served_download_folder(no_label_studio, tmp_path: Path) -> None:
    path = tmp_path / "urls.txt"
    path.write_text("https://a.org/x.jpg\n")
    with pytest.raises(ConfigError, match="--download-dir"):
        run_import(ImportOptions(str(path), "copy"), settings=no_label_studio)


def test_folder_outside_a_configured_root_fails_first(no_label_studio, tmp_path: Path) -> None:
    folder = tmp_path / "images" / "cat"
    folder.mkdir(parents=True)
    (folder / "a.jpg").write_bytes(b"x")
    ls = LabelStudioSettings(files_root=tmp_path / "served")
    settings = no_label_studio.model_copy(update={"label_studio": ls})
    with pytest.raises(ConfigError, match="not inside Label Studio's document root"):
        run_import(ImportOptions(str(folder.parent), "outside"), settings=settings)
    at_root = settings.model_copy(update={"label_studio": LabelStudioSettings(files_root=tmp_path)})
    with pytest.raises(ConfigError, match="parent folder of"):  # the root itself is refused too
        run_import(ImportOptions(str(tmp_path), "the root"), settings=at_root)
