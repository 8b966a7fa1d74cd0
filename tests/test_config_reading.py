"""Configuration is read in one place: ``winnow/config.py``.

Everywhere else code receives a ``Settings``. Only the entry points build one: the command
modules (``*/cli.py``, ``winnow/cli/*.py``) and the Streamlit script ``serve/ui/app.py``, which
is its own process. Only the command modules and ``winnow/config.py`` touch the environment.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from winnow.config import UiSettings

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("winnow", "ml_backend", "sync", "serve", "analysis")
CONFIG_MODULE = "winnow/config.py"
SETTINGS_SCRIPTS = {"serve/ui/app.py"}  # may build settings, must not read the environment
# Still calls get_settings() for the CLI's main(); goes once winnow/cli/app.py loads them.
ENV_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def is_command_module(rel: str) -> bool:
    return rel.endswith("/cli.py") or rel.startswith("winnow/cli/")


def findings(source: str) -> list[tuple[int, str]]:
    """(line, what) for every environment access and every ``get_settings`` call."""
    tree = ast.parse(source)
    os_names = {"os"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_names |= {a.asname or a.name for a in node.names if a.name == "os"}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            names = [a.name for a in node.names if a.name in ENV_NAMES]
            found += [(node.lineno, f"from os import {name}") for name in names]
        elif (
            isinstance(node, ast.Attribute)
            and node.attr in ENV_NAMES
            and isinstance(node.value, ast.Name)
            and node.value.id in os_names
        ):
            found.append((node.lineno, f"os.{node.attr}"))
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "get_settings":
                found.append((node.lineno, "get_settings()"))
    return sorted(found)


def violations(root: Path) -> list[str]:
    """``file:line: what`` for each reading of configuration outside its allowed places."""
    out: list[str] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel == CONFIG_MODULE or is_command_module(rel):
                continue
            for line, what in findings(path.read_text(encoding="utf-8")):
                settings_call = what == "get_settings()"
                if settings_call and (rel in SETTINGS_SCRIPTS):
                    continue
                out.append(f"{rel}:{line}: {what}")
    return out


def test_configuration_is_read_only_in_config_and_entry_points() -> None:
    found = violations(ROOT)
    assert not found, (
        "read settings in winnow/config.py (child processes: winnow.config.child_env) and "
        "pass a Settings in; found:\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import os\nx = os.environ['A']\n", [(2, "os.environ")]),
        ("import os\nx = os.environ.get('A')\n", [(2, "os.environ")]),
        ("import os as o\nx = o.getenv('A')\n", [(2, "os.getenv")]),
        ("from os import environ, path\nx = environ['A']\n", [(1, "from os import environ")]),
        ("from winnow.config import get_settings\ns = get_settings()\n", [(2, "get_settings()")]),
        ("import winnow.config as c\ns = c.get_settings()\n", [(2, "get_settings()")]),
        ("import os\np = os.path.join('a', 'b')\nos.getpid()\n", []),
        ("from os import path\n", []),
    ],
)
def test_findings_catch_every_spelling(source: str, expected: list[tuple[int, str]]) -> None:
    assert findings(source) == expected


def test_a_violation_is_reported_with_file_and_line(tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "winnow" / "config.py").write_text("import os\nos.environ\n")
    (tmp_path / "sync" / "cli.py").write_text("import os\nos.environ\nget_settings()\n")
    (tmp_path / "serve" / "ui").mkdir()
    (tmp_path / "serve" / "ui" / "app.py").write_text("get_settings()\nimport os\nos.getenv('A')\n")
    (tmp_path / "analysis" / "stats.py").write_text("x = 1\n\nimport os\nos.environ['A']\n")
    assert violations(tmp_path) == [
        "serve/ui/app.py:3: os.getenv",
        "analysis/stats.py:4: os.environ",
    ]


def _ui_as_the_child_sees_it(monkeypatch: pytest.MonkeyPatch, api_url: str | None) -> UiSettings:
    from serve.cli import ui_env
    from winnow.config import get_settings

    for key, value in ui_env(get_settings(), api_url).items():
        monkeypatch.setenv(key, value)
    return get_settings().ui


def test_the_ui_process_reads_what_winnow_ui_hands_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``winnow ui`` passes settings on through the child's environment (never argv); the UI
    script reads them back with get_settings(), key included."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("WINNOW_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("WINNOW_SERVE__API_KEYS", "first-key-123,second-key-456")
    monkeypatch.setenv("WINNOW_LABEL_STUDIO__URL", "http://ls.example:8080")
    ui = _ui_as_the_child_sees_it(monkeypatch, "http://api.example:9000")
    assert ui.api_url == "http://api.example:9000"
    assert ui.label_studio_url == "http://ls.example:8080"
    assert ui.api_key is not None and ui.api_key.get_secret_value() == "first-key-123"


def test_an_older_ui_key_name_still_beats_the_serve_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("WINNOW_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("WINNOW_SERVE__API_KEYS", "first-key-123")
    monkeypatch.setenv("WINNOW_UI_API_KEY", "ui-only-key-789")
    monkeypatch.setenv("WINNOW_UI_API_URL", "http://old-name.example:8000")
    ui = _ui_as_the_child_sees_it(monkeypatch, None)
    assert ui.api_key is not None and ui.api_key.get_secret_value() == "ui-only-key-789"
    assert ui.api_url == "http://old-name.example:8000"
