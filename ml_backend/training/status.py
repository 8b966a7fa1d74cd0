"""What ``/health`` and ``/metrics`` report about active learning: the worker's state and,
per project, the last run's findings.

The findings (counts, dropped, trained, version) are kept in
``<models>/<project>/status.json``, so a restarted backend serves the same model.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from ml_backend.metrics import Metrics
from ml_backend.training.worker import STATES, WorkerStatus


class ProjectStatus:
    """The last run's findings per project, in memory and in ``status.json``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._status: dict[int, dict[str, Any]] = {}

    def get(self, project: int) -> dict[str, Any]:
        """The last run's findings (counts, dropped, trained, version); {} before any run."""
        with self._lock:
            if project not in self._status:
                try:
                    self._status[project] = json.loads(self.path(project).read_text())
                except (OSError, ValueError):
                    self._status[project] = {}
            return self._status[project]

    def put(self, project: int, status: dict[str, Any]) -> None:
        """Hold ``status`` in memory only (the decision is still being made)."""
        with self._lock:
            self._status[project] = status

    def save(self, project: int, status: dict[str, Any]) -> None:
        """Hold ``status`` and write it, so it outlives a restart."""
        path = self.path(project)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(status, indent=2))
        self.put(project, status)

    def known(self) -> dict[int, dict[str, Any]]:
        """The findings of every project seen since start (loaded or recorded)."""
        with self._lock:
            return dict(self._status)

    def path(self, project: int) -> Path:
        return self.root / str(project) / "status.json"


def health_document(worker: WorkerStatus, projects: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The active-learning part of ``/health``: worker state, last error, version per project."""
    models = {str(p): s.get("version") for p, s in projects.items()}
    return {"training": worker.state, "training_error": worker.last_error, "models": models or None}


def publish_worker(metrics: Metrics, status: WorkerStatus) -> None:
    """Training state and run counters for ``/metrics``."""
    metrics.set_state("winnow_backend_training_state", status.state, STATES)
    metrics.set("winnow_backend_training_runs", float(status.runs), outcome="all")
    metrics.set("winnow_backend_training_runs", float(status.failures), outcome="failed")


def publish_model_active(metrics: Metrics, project: int, active: bool) -> None:
    """Whether ``project`` is answered by a trained model (1) or zero-shot (0)."""
    metrics.set("winnow_backend_trained_model_active", 1.0 if active else 0.0, project=str(project))
