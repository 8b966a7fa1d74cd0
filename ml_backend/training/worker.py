"""One background thread runs training; requests that arrive meanwhile become one follow-up.

Label Studio fires a webhook per annotation, and a run takes seconds to minutes, so requests
are coalesced per project: while a run is going, any number of requests for that project
leave exactly one pending run behind, which fine-tunes if any of them asked for it. The
request itself returns at once (``/webhook`` must answer quickly). A run that raises is
logged with its traceback and recorded (``last_error`` for the log, ``failed_project`` for
``/health``, which never shows exception text); nothing it half-built is served, and the next
request runs normally.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)
STATES = ("idle", "training", "failed")


@dataclass
class TrainRequest:
    fine_tune: bool
    reasons: list[str] = field(default_factory=list)

    def merge(self, other: TrainRequest) -> None:
        self.fine_tune = self.fine_tune or other.fine_tune
        self.reasons += other.reasons


@dataclass(frozen=True)
class WorkerStatus:
    state: str  # idle | training | failed (the last run raised)
    last_error: str | None  # "project 3: TypeError: ..." (logs and tests, never HTTP)
    runs: int
    failures: int
    coalesced: int  # requests merged into an already pending run
    failed_project: int | None = None  # the project whose last run raised


RunFn = Callable[[int, TrainRequest], None]


class TrainingWorker:
    """Runs ``run(project, request)`` on a single daemon thread, one run at a time."""

    def __init__(self, run: RunFn, *, on_change: Callable[[WorkerStatus], None] | None = None):
        self._run = run
        self._on_change = on_change
        self._cond = threading.Condition()
        self._pending: OrderedDict[int, TrainRequest] = OrderedDict()
        self._busy = False
        self._closed = False
        self._last_error: str | None = None
        self._failed_project: int | None = None
        self._runs = self._failures = self._coalesced = 0
        self._thread = threading.Thread(target=self._loop, name="winnow-training", daemon=True)
        self._thread.start()

    def request(self, project: int, request: TrainRequest) -> bool:
        """Queue a run; False when merged into a run already pending for ``project``."""
        with self._cond:
            if self._closed:
                return False
            merged = project in self._pending
            if merged:
                self._pending[project].merge(request)
                self._coalesced += 1
            else:
                self._pending[project] = request
            self._cond.notify_all()
        self._changed()
        return not merged

    def status(self) -> WorkerStatus:
        with self._cond:
            busy = self._busy or bool(self._pending)
            state = "training" if busy else ("failed" if self._last_error else "idle")
            return WorkerStatus(
                state,
                self._last_error,
                self._runs,
                self._failures,
                self._coalesced,
                self._failed_project if self._last_error else None,
            )

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Block until nothing runs or waits (tests, CLI); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._busy or self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop after the current run; pending requests are dropped."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()
        self._thread.join(timeout_s)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                project, request = self._pending.popitem(last=False)
                self._busy = True
            self._changed()
            self._execute(project, request)

    def _execute(self, project: int, request: TrainRequest) -> None:
        error = None
        try:
            self._run(project, request)
        except Exception as exc:
            error = f"project {project}: {type(exc).__name__}: {exc}"
            log.exception(
                "training run failed for project %s (%s)",
                project,
                ", ".join(request.reasons) or "no reason given",
            )
        with self._cond:
            self._busy = False
            self._runs += 1
            self._failures += error is not None
            self._last_error = error
            self._failed_project = project
            self._cond.notify_all()
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change(self.status())
