"""Process plumbing with real (tiny) subprocesses: failures explain themselves, stops are
complete, ports are distinct."""

from __future__ import annotations

import os
import socket
import stat
import time
from pathlib import Path

import pytest

from winnow.errors import ServiceError
from winnow.services.process import Service, free_ports, spawn, stop_process
from winnow.services.seaweedfs import SeaweedFS


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def _gone(pid: int, within_s: float = 3.0) -> bool:
    """True once ``pid`` no longer runs (a zombie awaiting its reaper counts as gone)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(10)

    assert len(set(ports)) == 10
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_service_that_dies_reports_its_exit_code_and_log(tmp_path: Path):
    fake = _script(tmp_path / "weed", 'echo "bind: address already in use" >&2; exit 3')
    server = SeaweedFS(tmp_path / "data", weed_bin=fake)

    with pytest.raises(ServiceError, match=r"exited with code 3") as err:
        server.start()

    assert "bind: address already in use" in str(err.value)
    assert not server.running


class _NeverReady(Service):
    name = "never-ready"
    startup_timeout_s = 1.0

    def __init__(self, log_path: Path, script: str) -> None:
        super().__init__(log_path)
        self.script = script

    def _command(self) -> list[str]:
        return [self.script]

    def _is_ready(self) -> bool:
        return False


def test_a_service_not_ready_in_time_is_stopped_and_explained(tmp_path: Path):
    pid_file = tmp_path / "child.pid"
    script = _script(tmp_path / "slow", f'echo "warming up"; sleep 60 & echo $! > {pid_file}; wait')
    server = _NeverReady(tmp_path / "slow.log", script)

    started = time.monotonic()
    with pytest.raises(ServiceError, match=r"not ready after 1 s") as err:
        server.start()

    assert time.monotonic() - started < 15
    assert "warming up" in str(err.value)
    assert _gone(int(pid_file.read_text()))  # the grandchild went down with the group


def test_stop_process_takes_down_the_whole_group_even_if_sigterm_is_ignored(tmp_path: Path):
    pid_file = tmp_path / "child.pid"
    script = _script(
        tmp_path / "stubborn",
        f"trap '' TERM; sh -c 'trap \"\" TERM; sleep 60' & echo $! > {pid_file}; wait",
    )
    proc = spawn([script], env=dict(os.environ), log_path=tmp_path / "stubborn.log")
    while not pid_file.exists() or not pid_file.read_text().strip():
        time.sleep(0.05)

    stop_process(proc, timeout_s=1.0)

    assert proc.returncode is not None
    assert _gone(int(pid_file.read_text()))
