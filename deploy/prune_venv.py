"""Uninstall every distribution that the installed project does not need at run time.

The image installs the whole lock file with ``--no-deps`` (the exact set ``make`` tests), and
the lock also carries the ``test`` extra (pytest, ruff, schemathesis, ...). This walks the
requirements of ``PROJECT[EXTRAS]`` through the installed metadata, markers evaluated, and
removes what the walk never reaches, so the image carries no test tools. Run inside the
image's virtualenv during the build: ``python prune_venv.py winnow ray``.
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import PackageNotFoundError, distribution, distributions

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

KEEP = {"pip", "setuptools", "wheel"}  # the virtualenv's own installer


def runtime_closure(project: str, extras: set[str]) -> set[str]:
    """Canonical names of ``project`` and everything its requirements pull in."""
    seen: set[str] = set()
    todo = [(project, frozenset(extras))]
    while todo:
        name, wanted = todo.pop()
        key = (canonicalize_name(name), wanted)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # an optional platform dependency the lock does not carry
        if key[0] in seen and not wanted:
            continue
        seen.add(key[0])
        for text in dist.requires or []:
            req = Requirement(text)
            env_sets = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in env_sets):
                todo.append((req.name, frozenset(req.extras)))
    return seen


def main() -> None:
    project, *extras = sys.argv[1:]
    needed = runtime_closure(project, set(extras)) | KEEP
    installed = {canonicalize_name(d.metadata["Name"]) for d in distributions()}
    extra = sorted(installed - needed)
    print(f"runtime: {len(needed & installed)} distributions; removing {len(extra)}: {extra}")
    if extra:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", *extra], check=True)


if __name__ == "__main__":
    main()
