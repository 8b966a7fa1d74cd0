"""The command line: help, placeholders, config masking, features and clean errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from winnow.cli.app import PLANNED_COMMANDS, _placeholder, build_app

runner = CliRunner()
APP = build_app()


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("WINNOW_"):
            monkeypatch.delenv(key)


def test_help_lists_every_designed_command() -> None:
    result = runner.invoke(APP, ["--help"])
    assert result.exit_code == 0
    for name in [*PLANNED_COMMANDS, "config", "features", "samples"]:
        assert name in result.output


def test_unbuilt_commands_say_so() -> None:
    placeholders = [c.name for c in APP.registered_commands
                    if "[not built yet]" in (c.callback.__doc__ or "")]  # fmt: skip
    app = typer.Typer()
    app.command("later")(_placeholder("later", "a future capability"))
    app.command("noop")(lambda: None)
    for target, name in [*((APP, p) for p in placeholders), (app, "later")]:
        result = runner.invoke(target, [name])
        assert result.exit_code == 2, name
        assert f"`winnow {name}`" in result.output
        assert "not built yet" in " ".join(result.output.split())


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
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "WINNOW_LABEL_STUDIO__API_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
