"""``winnow --help`` stays fast: no command loads torch, cleanlab, fastai or open_clip to
describe itself. Run in a fresh interpreter, because this test process has them loaded."""

import json
import subprocess
import sys
import time

import pytest

HEAVY = ("torch", "cleanlab", "fastai", "open_clip", "timm", "sklearn", "umap", "ray", "cv2")

PROBE = """
import json, sys
from typer.testing import CliRunner
from winnow.cli.app import build_app
app = build_app()
runner = CliRunner()
codes = [runner.invoke(app, ["--help"]).exit_code]
codes += [runner.invoke(app, [name, "--help"]).exit_code for name in sys.argv[1:]]
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.stdin.read())))
print(json.dumps({"codes": codes, "heavy": heavy}))
"""

COMMANDS = ["up", "demo", "import", "sync", "audit", "export", "index", "report", "serve", "ui",
            "backend", "predict", "rank", "features", "samples", "doctor", "config"]  # fmt: skip


def _probe(*commands: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *commands],
        input=json.dumps(HEAVY),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_help_of_every_command_loads_no_heavy_module() -> None:
    found = _probe(*COMMANDS)
    assert found["codes"] == [0] * (len(COMMANDS) + 1)
    assert found["heavy"] == []


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_alone_loads_no_heavy_module(command: str) -> None:
    assert _probe(command)["heavy"] == []


def test_help_starts_in_about_a_second() -> None:
    """A loose guard (3 s on a loaded CI machine); benchmarks/cli_startup.py measures it."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "winnow", "--help"], capture_output=True, check=True)
    assert time.perf_counter() - start < 3.0
