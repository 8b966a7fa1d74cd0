"""Logging: JSON lines for services, quiet text for the CLI, chosen by settings."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from winnow.cli.app import configure_logging_from_settings
from winnow.config import get_settings
from winnow.logging_setup import (
    JsonFormatter,
    configure_logging,
    uvicorn_log_config,
)


@pytest.fixture(autouse=True)
def _restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_extras_and_exceptions(capsys, tmp_path):
    configure_logging(get_settings(data_dir=tmp_path, logging={"json": True}, log_level="INFO"))
    log = logging.getLogger("winnow.test")
    log.info("predicted %d tasks", 8, extra={"project": 3, "model_version": "v1"})
    try:
        raise ValueError("bad image")
    except ValueError:
        log.exception("batch failed")
    logging.getLogger("httpx").info("HTTP Request: GET /")  # chatty library: dropped
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [e["message"] for e in lines] == ["predicted 8 tasks", "batch failed"]
    first, second = lines
    assert first["level"] == "INFO" and first["logger"] == "winnow.test"
    assert first["project"] == 3 and first["model_version"] == "v1"
    assert first["ts"].endswith("+00:00") and "exc" not in first
    assert second["level"] == "ERROR" and "ValueError: bad image" in second["exc"]


def test_text_mode_keeps_the_cli_quiet(capsys, tmp_path):
    configure_logging(get_settings(data_dir=tmp_path))
    logging.getLogger("winnow.test").info("not shown")
    logging.getLogger("winnow.test").warning("shown %s", "once")
    assert capsys.readouterr().err == "WARNING winnow.test: shown once\n"


def test_unserialisable_extras_become_strings():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    record.path = tmp = __import__("pathlib").Path("/data/a.jpg")
    assert json.loads(JsonFormatter().format(record))["path"] == str(tmp)


def test_environment_switches_json_on(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINNOW_LOGGING__JSON", "true")
    configure_logging_from_settings()
    (handler,) = logging.getLogger().handlers
    assert isinstance(handler.formatter, JsonFormatter)
    assert uvicorn_log_config(get_settings()) is None  # uvicorn's lines reach our handler


def test_bad_settings_fall_back_to_text(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINNOW_LOGGING__JSON", "not-a-bool")
    configure_logging_from_settings()
    (handler,) = logging.getLogger().handlers
    assert not isinstance(handler.formatter, JsonFormatter)
    monkeypatch.delenv("WINNOW_LOGGING__JSON")
    assert uvicorn_log_config(get_settings(data_dir=tmp_path)) is not None


def test_the_cli_logs_json_when_asked(tmp_path):
    """A real process through the CLI's main(): a command's warning comes out as JSON."""
    code = (
        "import logging, winnow.cli.app as a; "
        "a.build_app = lambda: None; "  # no adapters: only main()'s own wiring runs
        "a.run_guarded = lambda app: logging.getLogger('winnow.cli').warning("
        "'hello', extra={'n': 1}); a.main()"
    )
    env = {"WINNOW_LOGGING__JSON": "true", "WINNOW_DATA_DIR": str(tmp_path), "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (entry,) = [json.loads(line) for line in done.stderr.splitlines()]
    assert entry["message"] == "hello" and entry["n"] == 1 and entry["level"] == "WARNING"
