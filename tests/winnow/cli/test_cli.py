"""The command line: help, config masking, features and clean errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from winnow.cli.app import build_app

runner = CliRunner()
APP = build_app()


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("WINNOW_"):
            monkeypatch.delenv(key)


# Every command DESIGN.md names, and the ones Winnow added since.
COMMANDS = [
    "up", "import", "sync", "audit", "export", "serve", "report", "backend",
    "demo", "predict", "rank", "index", "ui", "config", "features", "samples", "doctor",
]  # fmt: skip


def test_help_lists_every_command() -> None:
    result = runner.invoke(APP, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    listed = {line.split()[1] for line in result.output.splitlines() if line.startswith("│ ")}
    assert set(COMMANDS) <= listed


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_its_own_help(name: str) -> None:
    result = runner.invoke(APP, [name, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WINNOW_LABEL_STUDIO__API_KEY", "0123456789abcdef")
    result = runner.invoke(APP, ["config", "show"])
    assert result.exit_code == 0
    assert "0123456789abcdef" not in result.output
    assert "api_key: '**********'" in result.output


def test_features_fills_store_then_all_cache_hits(real_images_dir: Path, tmp_path: Path) -> None:
    args = ["features", str(real_images_dir), "--no-embed", "--workers", "0"]
    first = runner.invoke(APP, args)
    assert first.exit_code == 0, first.output
    assert (tmp_path / ".winnow" / "features.sqlite").exists()
    n = len(list(real_images_dir.iterdir()))
    second = runner.invoke(APP, args)
    assert second.exit_code == 0
    assert f"│ cache hits           │ {n}" in second.output
    assert "│ computed             │ 0 " in second.output


def test_config_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "winnow.yaml").write_text("label_studio:\n  api_key: oops\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINNOW_")}
    proc = subprocess.run(
        [sys.executable, "-m", "winnow", "config", "show"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "WINNOW_LABEL_STUDIO__API_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
