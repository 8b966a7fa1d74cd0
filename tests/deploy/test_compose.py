"""docker-compose.yml, checked without a Docker engine.

The file must be valid under the Compose specification's JSON schema (vendored in
``tests/data/compose``), every Winnow command it runs must exist in the CLI with the options
it passes, every variable it reads must be documented in ``.env.example``, and the settings
it hands the Winnow services must load (so a misspelt ``WINNOW_*`` name fails here).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer.main
import yaml
from fastapi.testclient import TestClient

from winnow.cli.app import build_app
from winnow.config import get_settings
from winnow.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "tests" / "data" / "compose" / "compose-spec.json"
WINNOW_IMAGE = "winnow:"
LONG_RUNNING = {"postgres", "label-studio", "qdrant", "s3", "ml-backend", "sync", "api", "ui"}


def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))


def test_schema_rejects_a_broken_file():
    """The vendored schema is the real one: it refuses what Compose refuses."""
    broken = {"services": {"x": {"image": "a:1", "healthcheck": {"interval": 5, "tets": []}}}}
    assert list(_validator().iter_errors(broken))


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.gpu.yml"])
def test_compose_files_follow_the_compose_specification(name, filled_env, interpolator):
    document = interpolator(yaml.safe_load((REPO / name).read_text()), filled_env)
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in _validator().iter_errors(document)
    ]
    assert errors == []


def test_the_gpu_override_only_touches_existing_services(compose):
    override = yaml.safe_load((REPO / "docker-compose.gpu.yml").read_text())
    assert set(override["services"]) <= set(compose["services"])


def test_the_stack_has_every_part(compose):
    assert set(compose["services"]) >= LONG_RUNNING
    ls_env = compose["services"]["label-studio"]["environment"]
    assert ls_env["DJANGO_DB"] == "default" and ls_env["POSTGRE_HOST"] == "postgres"


def test_every_variable_is_in_env_example_and_required_ones_fail_without_it(
    compose_raw, compose_variables, env_example, interpolator
):
    used = {name for name, _ in compose_variables}
    assert used - set(env_example) == set()
    required = {name for name, op in compose_variables if op.endswith("?")}
    assert {"POSTGRES_PASSWORD", "LABEL_STUDIO_TOKEN", "S3_SECRET_ACCESS_KEY"} <= required
    partial = {k: v for k, v in env_example.items() if k != "POSTGRES_PASSWORD"}
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolator(compose_raw, partial)


def test_images_are_pinned_to_version_tags(compose):
    for name, service in compose["services"].items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and tag not in ("", "latest") and re.search(r"\d", tag), (name, image)
        if image.startswith(WINNOW_IMAGE):
            assert "build" in service and tag == _project_version(), name


def test_long_running_services_have_healthchecks_and_limits(compose):
    services = compose["services"]
    for name in LONG_RUNNING:
        service = services[name]
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        limits = service["deploy"]["resources"]["limits"]
        assert float(limits["cpus"]) > 0 and re.fullmatch(r"\d+[mg]", limits["memory"]), name
        assert service["restart"] == "unless-stopped", name
    for name, service in services.items():
        for dep, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], (name, dep)


def test_python_healthchecks_compile(compose):
    for name, service in compose["services"].items():
        test = service.get("healthcheck", {}).get("test", [])
        if test[1:3] in (["python", "-c"], ["python3", "-c"]):
            compile(test[3], f"{name} healthcheck", "exec")


def test_named_volumes_are_declared_and_used(compose):
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/", "~")):
                used.add(source)
    assert used == declared


def test_published_ports_bind_to_the_configured_address(compose_raw):
    for name, service in compose_raw["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("${WINNOW_BIND:-127.0.0.1}:"), (name, port)


def _winnow_commands(compose: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(where, argv) of every Winnow command: service commands and healthcheck commands."""
    found = []
    for name, service in compose["services"].items():
        if service.get("image", "").startswith(WINNOW_IMAGE):
            found.append((name, list(service["command"])))
        test = service.get("healthcheck", {}).get("test", [])
        if test[:2] == ["CMD", "winnow"]:
            found.append((f"{name} healthcheck", test[2:]))
    return found


@pytest.fixture(scope="module")
def cli() -> Any:
    """The click group behind the Typer app (Typer ships its own copy of click)."""
    return typer.main.get_command(build_app())


def _resolve(cli: Any, name: str) -> Any | None:
    """The command ``name``, or None when it is missing or only a placeholder."""
    command = cli.get_command(cli.context_class(cli), name)
    if command is None or "_placeholder" in getattr(command.callback, "__qualname__", ""):
        return None
    return command


def test_service_commands_exist_with_their_options(compose, cli):
    missing = []
    for where, argv in _winnow_commands(compose):
        command = _resolve(cli, argv[0])
        if command is not None and hasattr(command, "get_command"):  # a group: `config ...`
            argv = argv[1:]
            command = _resolve(command, argv[0])
        if command is None:
            missing.append(f"{where}: `winnow {argv[0]}` does not exist")
        else:
            missing += _option_problems(where, command, argv[1:])
    assert missing == []


def _option_problems(where: str, command: Any, args: list[str]) -> list[str]:
    options = {
        opt: p
        for p in command.params
        for opt in (*p.opts, *p.secondary_opts)
        if p.param_type_name == "option"
    }
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    problems, positional, i = [], 0, 0
    while i < len(args):
        token = args[i]
        if token.startswith("-") and len(token) > 1:
            param = options.get(token.split("=", 1)[0])
            if param is None:
                problems.append(f"{where}: {command.name} has no option {token}")
            elif not param.is_flag and "=" not in token:
                i += 1
        else:
            positional += 1
        i += 1
    variadic = any(p.nargs == -1 for p in arguments)
    if positional > len(arguments) and not variadic:
        problems.append(f"{where}: {command.name} takes {len(arguments)} arguments")
    return problems


def test_winnow_services_get_settings_that_load(compose, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no winnow.yaml
    env = compose["services"]["ml-backend"]["environment"]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = get_settings()
    assert settings.label_studio.url == "http://label-studio:8080"
    assert settings.index.url == "http://qdrant:6333"
    assert settings.s3.endpoint_url == "http://s3:8333"
    assert settings.logging.json_format is True
    assert settings.io.allowed_hosts == ["s3"]
    assert str(settings.data_dir) == "/srv/winnow"


def test_env_example_placeholders_are_refused(
    compose_raw, env_example, interpolator, monkeypatch, tmp_path
):
    """Starting the stack on an unedited copy of .env.example fails, never runs open."""
    monkeypatch.chdir(tmp_path)
    env = interpolator(compose_raw, env_example)["services"]["ml-backend"]["environment"]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match="placeholder"):
        get_settings()


def _project_version() -> str:
    text = (REPO / "pyproject.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, re.M)[1]  # type: ignore[index]


def _app_for(service: str, settings: Any) -> Any:
    if service == "ml-backend":
        from ml_backend.app import create_app

        return create_app(settings)
    from serve.app import create_app as create_api

    return create_api(settings, load=False)


@pytest.mark.parametrize("service", ["ml-backend", "api"])
def test_http_healthchecks_hit_real_routes(compose, service, tmp_path):
    """The URL a healthcheck polls is a GET route of the app behind it (lifespan not run)."""
    test = compose["services"][service]["healthcheck"]["test"]
    port, path = re.search(r"http://127\.0\.0\.1:(\d+)(/[\w/]*)", test[-1]).groups()
    assert f'"{port}"' in json.dumps(compose["services"][service]["command"])
    app = _app_for(service, get_settings(data_dir=tmp_path))
    client = TestClient(app, raise_server_exceptions=False)  # no `with`: no lifespan
    assert client.get(path).status_code not in (404, 405)  # routers may be included lazily
