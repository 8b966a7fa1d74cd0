"""`winnow up` starts Label Studio, the backend, the API and the UI, and Ctrl-C stops them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration


def _read_links(proc: subprocess.Popen, timeout_s: float = 300) -> dict[str, str]:
    links, deadline = {}, time.monotonic() + timeout_s
    while "web UI" not in links:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"winnow up stopped early: {links}")
            continue
        match = re.match(r"(Label Studio|ML backend|API|web UI)\s+(\S+)", line.strip())
        if match:
            links[match.group(1)] = match.group(2)
    return links


def test_up_serves_every_part_until_interrupted(tmp_path: Path, ls_venv: Path) -> None:
    env = dict(
        os.environ,
        WINNOW_DATA_DIR=str(tmp_path / "data"),
        WINNOW_LS_VENV=str(ls_venv),
        COLUMNS="200",
    )
    env.pop("WINNOW_LABEL_STUDIO__API_KEY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "winnow", "up", "--files-root", str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        links = _read_links(proc)
        assert httpx.get(links["Label Studio"] + "/health").status_code == 200
        assert httpx.get(links["ML backend"] + "/health").json()["status"] == "UP"
        api = links["API"].removesuffix("/docs")
        assert httpx.get(api + "/readyz").json()["status"] == "ready"
        assert httpx.get(links["web UI"] + "/_stcore/health").text == "ok"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    for url in (links["ML backend"] + "/health", api + "/healthz"):
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2)
