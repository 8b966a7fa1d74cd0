"""The Dockerfile, checked without a Docker engine: a pinned base image of the Python the
project supports, dependencies from the lock file, every package copied, a non-root user,
and an entry point that is the installed ``winnow`` script."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` pairs, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            pairs.append((word.upper(), " ".join(rest.split())))
    return pairs


@pytest.fixture(scope="module")
def steps() -> list[tuple[str, str]]:
    return instructions((REPO / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _args(steps: list[tuple[str, str]]) -> dict[str, str]:
    return dict(a.split("=", 1) for kind, a in steps if kind == "ARG" and "=" in a)


def test_parser_joins_continuations_and_skips_comments():
    parsed = instructions("# c\nFROM a:1\nRUN x \\\n    && y\n")
    assert parsed == [("FROM", "a:1"), ("RUN", "x && y")]


def test_base_image_is_a_pinned_python_of_the_supported_version(steps, pyproject):
    bases = {a.split()[0] for kind, a in steps if kind == "FROM"}  # the build stage and the image
    (base,) = bases
    image = _args(steps).get(base.strip("${}"), base)
    repo, _, tag = image.partition(":")
    assert repo == "python"
    major_minor = re.search(r"(\d+\.\d+)", pyproject["project"]["requires-python"])[1]
    assert re.fullmatch(rf"{re.escape(major_minor)}\.\d+-slim-\w+", tag), tag


def test_dependencies_come_from_the_lock_file_without_resolution(steps):
    runs = [a for kind, a in steps if kind == "RUN"]
    assert any("pip install --no-deps -r requirements/lock.txt" in r for r in runs)
    assert any("requirements/pip_check.py" in r for r in runs)  # `pip check`, weights-only aside
    copies = [a for kind, a in steps if kind == "COPY"]
    assert copies[0] == "requirements/lock.txt requirements/pip_check.py requirements/"
    assert (REPO / "requirements" / "lock.txt").is_file()


def test_every_package_is_copied_and_nothing_copied_is_ignored(steps, pyproject):
    sources = [
        a.split()[:-1] for kind, a in steps if kind == "COPY" and not a.startswith("--from=")
    ]
    copied = {src for srcs in sources for src in srcs}
    for src in copied:
        assert (REPO / src).exists(), src
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    assert packages <= copied
    ignored = [
        ln
        for ln in (REPO / ".dockerignore").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    for src in copied:
        assert not any(fnmatch.fnmatch(src, pattern) for pattern in ignored), src


def test_runs_as_a_created_non_root_user(steps):
    users = [a for kind, a in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any("useradd" in a and users[-1] in a for kind, a in steps if kind == "RUN")
    last_user = max(i for i, (kind, _) in enumerate(steps) if kind == "USER")
    assert all(kind != "RUN" for kind, _ in steps[last_user:])  # nothing runs as root after


def test_entry_point_is_the_winnow_script(steps, pyproject):
    (entry,) = [json.loads(a) for kind, a in steps if kind == "ENTRYPOINT"]
    assert entry == ["winnow"] and "winnow" in pyproject["project"]["scripts"]
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(a for k, a in steps if k == "ENV")))
    volumes = [json.loads(a) for kind, a in steps if kind == "VOLUME"]
    assert volumes == [[env["WINNOW_DATA_DIR"]]]


def test_the_image_carries_the_runtime_virtualenv_only(steps):
    """Built in a stage of its own and pruned to what `winnow[ray]` needs: no test tools."""
    runs = [a for kind, a in steps if kind == "RUN"]
    assert any("prune_venv.py winnow" in r for r in runs)
    final = max(i for i, (kind, _) in enumerate(steps) if kind == "FROM")
    tail = steps[final:]
    assert ("COPY", "--from=build /opt/winnow /opt/winnow") in tail
    assert not any("pip install" in a for kind, a in tail if kind == "RUN")
    build_args = {a.split("=")[0] for kind, a in steps[:final] if kind == "ARG"}
    assert {"PIP_CERT", "PIP_EXTRA_INDEX_URL"} <= build_args  # build-time only
    assert not any(kind == "ARG" and a.startswith("PIP_") for kind, a in tail)
