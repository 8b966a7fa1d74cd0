"""Shared plumbing for local service processes: ports, logs, readiness and clean stops.

Every service runs in its own process group with its output in its own log file, so a
failure can be explained (the log tail goes into the error) and a stop takes the whole
tree down, including worker processes the service spawned itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import socketserver
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import httpx

from winnow.config import child_env
from winnow.errors import ServiceError

LOOPBACK = "127.0.0.1"
LOG_TAIL_LINES = 40


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """Ask the kernel for ``count`` distinct free TCP ports on ``host``.

    All sockets stay open until every port is picked, so the same port is never returned
    twice. The ports are free now, not reserved: the service must bind them soon.
    """
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


_Server = TypeVar("_Server", bound=socketserver.BaseServer)


@contextlib.contextmanager
def serving_in_thread(server: _Server) -> Iterator[_Server]:
    """Run an already bound ``server`` in a daemon thread; shut it down and close it after."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def free_port(host: str = LOOPBACK) -> int:
    """One free TCP port on ``host``."""
    return free_ports(1, host)[0]


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, or a note that there is none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def spawn(
    cmd: Sequence[str], *, env: Mapping[str, str], log_path: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in a new process group, stdout and stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        try:
            return subprocess.Popen(
                list(cmd),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise ServiceError(f"cannot run {cmd[0]}: {exc}") from exc


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop_process(proc: subprocess.Popen[bytes], *, timeout_s: float = 10.0) -> None:
    """Stop a process started by :func:`spawn` and everything in its group.

    SIGTERM to the group first so the service can flush its data, SIGKILL if the leader
    ignores it. Once the leader is gone, whatever is left of the group (helpers that
    ignored SIGTERM) is killed too, so nothing outlives a stop.
    """
    pgid = proc.pid  # spawn() makes every child the leader of its own group
    _signal_group(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _signal_group(pgid, signal.SIGKILL)
        proc.wait(timeout=timeout_s)
    _signal_group(pgid, signal.SIGKILL)


def http_status(url: str, *, headers: Mapping[str, str] | None = None) -> int | None:
    """The status code of ``GET url``, or None when nothing answers yet."""
    try:
        # trust_env=False: a proxy from the environment must not intercept loopback probes.
        response = httpx.get(url, headers=dict(headers or {}), timeout=5.0, trust_env=False)
        return response.status_code
    except httpx.HTTPError:
        return None


class Service:
    """A local server process: subclasses give the command, environment and readiness check.

    ``start()`` returns only once the service answers; on failure it stops the process and
    raises :class:`ServiceError` with the log tail.
    """

    name = "service"
    startup_timeout_s = 60.0
    poll_interval_s = 0.25

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    # -- to override --------------------------------------------------------------------
    def _command(self) -> list[str]:
        raise NotImplementedError

    def _env(self) -> dict[str, str]:
        return child_env()

    def _prepare(self) -> None:
        """Runs before the process starts (create directories, copy a template, ...)."""

    def _is_ready(self) -> bool:
        raise NotImplementedError

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Start the process and wait until it is ready. Does nothing if already running."""
        if self.running:
            return self
        self._prepare()
        self._proc = spawn(self._command(), env=self._env(), log_path=self.log_path)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the process group. Safe to call twice or before ``start()``."""
        if self._proc is not None:
            stop_process(self._proc)
            self._proc = None

    def _wait_ready(self) -> None:
        ready = wait_until(
            self._is_ready,
            timeout_s=self.startup_timeout_s,
            interval_s=self.poll_interval_s,
            alive=self._alive_or_raise,
        )
        if not ready:
            raise self.error(f"{self.name} not ready after {self.startup_timeout_s:.0f} s")

    def _alive_or_raise(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise self.error(f"{self.name} exited with code {self._proc.returncode}")

    def error(self, message: str) -> ServiceError:
        """A ServiceError whose message ends with the tail of this service's log."""
        return ServiceError(
            f"{message}; log {self.log_path}, last lines:\n{log_tail(self.log_path)}"
        )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def wait_until(
    check: Callable[[], bool],
    *,
    timeout_s: float,
    interval_s: float = 0.25,
    alive: Callable[[], None] | None = None,
) -> bool:
    """Poll ``check`` until it returns True (then True) or the deadline passes (then False).

    ``alive`` is called before every poll and should raise if the process has died, so a
    crash is reported at once instead of after the whole timeout.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        if alive is not None:
            alive()
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
