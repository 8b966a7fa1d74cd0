"""Shared pieces for checking the deployment files without a Docker engine.

``interpolate`` applies Compose's variable syntax (``${VAR}``, ``${VAR:-default}``,
``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``) the way ``docker compose`` does
before it validates a file, so the tests see what the engine would see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")


class MissingVariable(KeyError):
    """A ``${VAR:?...}`` variable is unset, as ``docker compose`` would refuse it."""


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """``value`` (a loaded YAML tree) with every ``${...}`` replaced from ``env``."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value
    return VARIABLE.sub(lambda m: _resolve(m, env), value.replace("$$", "\0")).replace("\0", "$")


def _resolve(match: re.Match[str], env: Mapping[str, str]) -> str:
    name, op, arg = match["name"], match["op"] or "", match["arg"]
    value = env.get(name)
    empty = value is None or (op.startswith(":") and value == "")
    if op.endswith("-"):
        return arg if empty else value  # type: ignore[return-value]
    if op.endswith("?") and empty:
        raise MissingVariable(f"{name}: {arg}")
    return value or ""


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of a dotenv file (comments and blank lines ignored)."""
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=value: {line!r}"
            pairs[key.strip()] = value.strip()
    return pairs


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="session")
def interpolator():
    """:func:`interpolate`, for tests (test modules here cannot import conftest)."""
    return interpolate


@pytest.fixture(scope="session")
def compose_variables() -> list[tuple[str, str]]:
    """``(name, operator)`` of every ``${...}`` in docker-compose.yml."""
    text = (REPO / "docker-compose.yml").read_text()
    return [(m["name"], m["op"] or "") for m in VARIABLE.finditer(text)]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def compose_raw() -> dict[str, Any]:
    return load_yaml(REPO / "docker-compose.yml")


@pytest.fixture(scope="session")
def env_example() -> dict[str, str]:
    return read_env_file(REPO / ".env.example")


@pytest.fixture(scope="session")
def filled_env(env_example: dict[str, str]) -> dict[str, str]:
    """``.env.example`` with every placeholder replaced by a distinct real-looking value."""
    return {
        k: (f"{k.lower()}-0123456789abcdef" if v == "change-me" else v)
        for k, v in env_example.items()
    }


@pytest.fixture(scope="session")
def compose(compose_raw: dict[str, Any], filled_env: dict[str, str]) -> dict[str, Any]:
    """The compose file as the engine sees it with a filled-in ``.env``."""
    return interpolate(compose_raw, filled_env)
