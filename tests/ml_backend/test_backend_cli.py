"""The commands the backend adds to ``winnow`` through the entry-point group."""

from __future__ import annotations

from typer.testing import CliRunner

from winnow.cli.app import build_app
from winnow.errors import ConfigError


def test_backend_and_predict_are_registered_commands():
    app = build_app()
    runner = CliRunner()
    backend = runner.invoke(app, ["backend", "--help"])
    assert backend.exit_code == 0
    assert "--host" in backend.output and "--port" in backend.output
    predict = runner.invoke(app, ["predict", "--help"])
    assert predict.exit_code == 0
    assert "--project" in predict.output and "--chunk-size" in predict.output


def test_predict_without_an_api_key_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.delenv("WINNOW_LABEL_STUDIO__API_KEY", raising=False)
    monkeypatch.setenv("WINNOW_CONFIG", str(tmp_path / "winnow.yaml"))
    (tmp_path / "winnow.yaml").write_text("data_dir: " + str(tmp_path / "data") + "\n")
    result = CliRunner().invoke(build_app(), ["predict", "--project", "1"])
    assert isinstance(result.exception, ConfigError)
    assert "WINNOW_LABEL_STUDIO__API_KEY" in str(result.exception)
