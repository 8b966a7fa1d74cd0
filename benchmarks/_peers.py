"""Run the peer tools (cleanvision, imagededup, fastdup) from their own virtualenv.

The app's virtualenv never imports them: each runner script in ``peers/`` is started with the
peers' Python and answers with one JSON line on stdout (``peers/setup.sh`` builds that venv).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

PEERS_DIR = Path(__file__).with_name("peers")
DEFAULT_VENV = Path.home() / ".cache" / "winnow" / "venv-peers"


def peer_python() -> Path:
    """The peers' interpreter (``PEERS_VENV`` overrides the default location)."""
    python = Path(os.environ.get("PEERS_VENV", DEFAULT_VENV)) / "bin" / "python"
    if not python.exists():
        raise SystemExit(f"{python} not found: run `bash benchmarks/peers/setup.sh` first")
    return python


def run_peer(script: str, args: list[str], *, log: Path, timeout: float = 900) -> dict:
    """Run ``peers/<script>`` and return its JSON answer plus ``wall_seconds`` (process start
    to exit, imports included). Failures come back as ``{"error": ...}``, never raised."""
    command = [str(peer_python()), str(PEERS_DIR / script), *args]
    env = {**os.environ, "SENTRY_OPT_OUT": "1", "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    with log.open("a") as err:
        try:
            done = subprocess.run(
                command,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                timeout=timeout,
                env=env,
                cwd=PEERS_DIR,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s", "wall_seconds": timeout}
    wall = time.perf_counter() - start
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}; see {log}", "wall_seconds": wall}
    return {**json.loads(lines[-1]), "wall_seconds": wall}
