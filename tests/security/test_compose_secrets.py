"""Findings 6, 7, 8 and 13 of the security review, in the compose files (no engine needed).

- 8: every secret in ``.env.example`` is a placeholder that the stack's ``check-secrets``
  service refuses before any server starts, and Winnow's own check refuses it too.
- 13: each service receives only the secrets it uses.
- 6: the UI has an API key of its own, which the API accepts, and a login password.
- 7: Label Studio's SSRF guard stays on, and the only private network it may reach is the
  ``ls-egress`` network of the services it must call.
"""

from __future__ import annotations

import importlib.util
import ipaddress
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from winnow.cli.app import build_app
from winnow.config import placeholder_secrets
from winnow.services.label_studio import banned_subnets

REPO = Path(__file__).resolve().parents[2]
# What each service may hold; anything else in its environment is a leak.
SECRETS_BY_SERVICE = {
    "postgres": {"POSTGRES_PASSWORD"},
    "label-studio": {"POSTGRE_PASSWORD", "LABEL_STUDIO_PASSWORD", "LABEL_STUDIO_USER_TOKEN"},
    "qdrant": {"QDRANT__SERVICE__API_KEY"},
    "s3": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
    "ml-backend": {
        "WINNOW_LABEL_STUDIO__API_KEY",
        "WINNOW_S3__ACCESS_KEY_ID",
        "WINNOW_S3__SECRET_ACCESS_KEY",
        "WINNOW_BACKEND__BASIC_AUTH_PASSWORD",
    },
    "sync": {
        "WINNOW_LABEL_STUDIO__API_KEY",
        "WINNOW_S3__ACCESS_KEY_ID",
        "WINNOW_S3__SECRET_ACCESS_KEY",
        "WINNOW_INDEX__API_KEY",
    },
    "api": {
        "WINNOW_LABEL_STUDIO__API_KEY",
        "WINNOW_S3__ACCESS_KEY_ID",
        "WINNOW_S3__SECRET_ACCESS_KEY",
        "WINNOW_INDEX__API_KEY",
        "WINNOW_SERVE__API_KEYS",
    },
    "ui": {"WINNOW_UI__API_KEY", "WINNOW_UI__PASSWORD"},
    "features": set(),
}


def _compose_helpers():
    """tests/deploy/conftest.py's interpolation, loaded by path (a conftest is no module)."""
    spec = importlib.util.spec_from_file_location(
        "compose_helpers", REPO / "tests" / "deploy" / "conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


HELPERS = _compose_helpers()


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return HELPERS.read_env_file(REPO / ".env.example")


@pytest.fixture(scope="module")
def filled_env(env_example) -> dict[str, str]:
    """.env.example with each placeholder (and the S3 key id) replaced by a distinct value."""
    filled = {
        k: (f"{k.lower()}-0123456789abcdef" if v == "change-me" else v)
        for k, v in env_example.items()
    }
    return {**filled, "S3_ACCESS_KEY_ID": "s3-key-id-0123456789abcdef"}


@pytest.fixture(scope="module")
def compose(filled_env) -> dict:
    raw = HELPERS.load_yaml(REPO / "docker-compose.yml")
    return HELPERS.interpolate(raw, filled_env)


@pytest.fixture(scope="module")
def placeholders(env_example) -> list[str]:
    return [name for name, value in env_example.items() if value == "change-me"]


def _secret_values(filled_env: dict[str, str], placeholders: list[str]) -> dict[str, str]:
    """value -> .env name, for the filled-in secrets (each value is distinct)."""
    names = [*placeholders, "S3_ACCESS_KEY_ID"]
    return {filled_env[name]: name for name in names}


def test_every_placeholder_in_env_example_is_refused_by_the_stack(
    compose, env_example, placeholders
):
    assert {"POSTGRES_PASSWORD", "LABEL_STUDIO_PASSWORD", "ML_BACKEND_PASSWORD"} <= set(
        placeholders
    )
    command = compose["services"]["check-secrets"]["command"]
    assert command[:2] == ["config", "check-secrets"]
    assert set(placeholders) <= set(command[2:])
    assert placeholder_secrets(env_example, placeholders) == placeholders
    for name in ("postgres", "label-studio", "qdrant", "s3"):  # every server waits for it
        deps = _dependencies(compose, name)
        assert "check-secrets" in deps, name
    assert compose["services"]["check-secrets"]["restart"] == "no"


def _dependencies(compose: dict, name: str) -> set[str]:
    found, todo = set(), [name]
    while todo:
        for dep in compose["services"][todo.pop()].get("depends_on", {}):
            if dep not in found:
                found.add(dep)
                todo.append(dep)
    return found


def test_the_check_secrets_command_refuses_each_placeholder_and_accepts_real_values(
    compose, env_example, filled_env, placeholders, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    argv = compose["services"]["check-secrets"]["command"]
    for name in placeholders:  # one placeholder left among real values: refused, by name
        env = {**filled_env, name: env_example[name]}
        result = runner.invoke(build_app(), argv, env=env)
        assert result.exit_code == 1, name
        assert name in result.output and "change-me" not in result.output
    result = runner.invoke(build_app(), argv, env=filled_env)
    assert result.exit_code == 0, result.output
    for value in filled_env.values():  # it never prints a secret
        assert len(value) < 12 or value not in result.output


def test_each_service_gets_only_its_own_secrets(compose, filled_env, placeholders):
    secrets = _secret_values(filled_env, placeholders)
    for name, service in compose["services"].items():
        if name == "check-secrets":
            continue  # it checks them all and serves nothing (network_mode: none)
        holding = {
            key
            for key, value in service.get("environment", {}).items()
            if set(str(value).split(",")) & set(secrets)  # a value, or one of a key list
        }
        assert holding == SECRETS_BY_SERVICE[name], name
    assert compose["services"]["check-secrets"]["network_mode"] == "none"


def test_the_ui_has_its_own_key_which_the_api_accepts_and_a_login(compose, filled_env):
    ui = compose["services"]["ui"]["environment"]
    api_keys = compose["services"]["api"]["environment"]["WINNOW_SERVE__API_KEYS"].split(",")
    assert ui["WINNOW_UI__API_KEY"] == filled_env["WINNOW_UI_API_KEY"]
    assert ui["WINNOW_UI__API_KEY"] in api_keys
    assert filled_env["WINNOW_API_KEYS"] in api_keys
    assert ui["WINNOW_UI__PASSWORD"] == filled_env["WINNOW_UI_PASSWORD"]


def test_label_studio_keeps_its_ssrf_guard_and_reaches_only_ls_egress(compose):
    ls = compose["services"]["label-studio"]
    env = ls["environment"]
    assert env["LABEL_STUDIO_SSRF_PROTECTION_ENABLED"] == "true"
    assert env["LABEL_STUDIO_ML_BLOCK_LOCAL_IP"] == "true"
    assert env["LABEL_STUDIO_USE_DEFAULT_BANNED_SUBNETS"] == "false"
    (subnet,) = [c["subnet"] for c in compose["networks"]["ls-egress"]["ipam"]["config"]]
    banned = env["LABEL_STUDIO_USER_ADDITIONAL_BANNED_SUBNETS"].split(",")
    assert banned == banned_subnets([subnet])
    networks = [ipaddress.ip_network(n) for n in banned]
    egress = ipaddress.ip_network(subnet)
    for address in ("169.254.169.254", "127.0.0.1", "10.0.0.1", "192.168.1.1", "172.17.0.1"):
        assert any(ipaddress.ip_address(address) in n for n in networks), address
    assert not any(n.overlaps(egress) for n in networks if n.version == egress.version)
    assert ls["networks"] == ["ls-egress"]
    members = {n for n, s in compose["services"].items() if "ls-egress" in s.get("networks", [])}
    assert members == {"label-studio", "postgres", "ml-backend", "sync", "api", "s3"}


def test_the_stack_test_override_changes_only_images_and_the_index(compose):
    override = yaml.safe_load((REPO / "deploy" / "stack-test" / "compose.override.yml").read_text())
    allowed = {"image", "pull_policy", "environment", "command", "healthcheck"}
    for name, service in override["services"].items():
        assert name in compose["services"], name
        assert set(service) <= allowed, name
        if set(service) - {"image", "pull_policy"}:
            # only the missing Qdrant server is replaced, and said so
            assert name == "qdrant" or service["environment"] == {"WINNOW_INDEX__URL": ""}
