"""One run at a time: an exclusive lock file per export destination and per synced project.

Two exports to one destination would pick the same version and overwrite each other; two
syncs of one project would interleave their writes. Each takes :func:`hold` first.

The lock is the kernel's ``flock`` (through ``filelock``), so it disappears with its
holder: a run killed by SIGKILL or a power cut leaves no stale lock to clean up, and PID
files (which a recycled PID can fake) are not needed. While held, the file names its holder
(host, PID, what, since) so the refusal can say who to wait for. A second run does not
queue by default (``wait_s=0``): it stops at once with :class:`LockBusyError`; callers that
would rather wait pass a timeout.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from winnow.errors import WinnowError


class LockBusyError(WinnowError):
    """Another run holds the lock; ``holder`` describes it when the lock file says."""

    def __init__(
        self, path: Path | str, what: str, holder: str | None, wait_s: float = 0.0, hint: str = ""
    ) -> None:
        self.path, self.what, self.holder = path, what, holder
        waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
        by = f" by {holder}" if holder else ""
        super().__init__(
            f"{what} is already running{by}; refused{waited} so the two runs cannot "
            f"overwrite each other. Try again when it has finished{hint} (lock: {path})"
        )


def owner_record(what: str) -> dict[str, object]:
    """Who holds a lock: written into the lock file, and used by the S3 export lease."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "what": what, "since": time.time()}


def describe(record: dict[str, object]) -> str:
    since = record.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "?"
    return f"PID {record.get('pid')} on {record.get('host')} since {when}"


def pid_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists on this host (it may belong to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def hold(path: Path, *, what: str, wait_s: float = 0.0) -> Iterator[None]:
    """Hold the exclusive lock at ``path`` for the block; :class:`LockBusyError` if another
    process (or another thread with its own ``hold``) has it and ``wait_s`` passes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = json.dumps(owner_record(what)).encode()

    def name_holder(fd: int) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, record, 0)

    lock = FileLock(path, timeout=wait_s, thread_local=False, on_acquired=name_holder)
    try:
        lock.acquire()
    except Timeout:
        raise LockBusyError(path, what, _holder(path), wait_s) from None
    try:
        yield
    finally:
        lock.release()


def _holder(path: Path) -> str | None:
    try:
        return describe(json.loads(path.read_bytes()))
    except (OSError, ValueError, AttributeError):
        return None
