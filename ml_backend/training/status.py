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
from winnow.atomic import write_atomic


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
        write_atomic(self.path(project), json.dumps(status, indent=2))  # never half a file
        self.put(project, status)

    def known(self) -> dict[int, dict[str, Any]]:
        """The findings of every project with a recorded run (also from before a restart)."""
        for path in self.root.glob("*/status.json"):
            if path.parent.name.isdigit():
                self.get(int(path.parent.name))
        with self._lock:
            return dict(self._status)

    def path(self, project: int) -> Path:
        return self.root / str(project) / "status.json"


def health_document(
    worker: WorkerStatus, projects: dict[int, dict[str, Any]], *, zero_shot_class: str
) -> dict[str, Any]:
    """The active-learning part of ``/health``: the class of the serving model(s), the worker
    state, a generic failure note (exception text stays in the log), and per project the
    serving version, the held-out scores of the last run and why it did not fine-tune."""
    models = {str(p): s.get("version") for p, s in projects.items()}
    details = {str(p): project_health(s, zero_shot_class) for p, s in projects.items() if s}
    classes = [d["model_class"] for d in details.values()] or [zero_shot_class]
    error = None
    if worker.last_error is not None:
        error = f"the last training run of project {worker.failed_project} failed; see the log"
    return {
        "model_class": ", ".join(dict.fromkeys(classes)),
        "training": worker.state,
        "training_error": error,
        "models": models or None,
        "projects": details or None,
    }


def project_health(status: dict[str, Any], zero_shot_class: str) -> dict[str, Any]:
    """One project's entry in ``/health`` (from its ``status.json``)."""
    scores: dict[str, float | None] = {}
    for version, decision in (status.get("decisions") or {}).items():
        scores[version] = decision.get("holdout_score")
        if decision.get("compared_with"):
            scores.setdefault(decision["compared_with"], decision.get("compared_score"))
    entry = {
        "version": status.get("version"),
        "model_class": status.get("model_class") or zero_shot_class,
        "holdout_scores": scores or None,
        "decisions": [d["reason"] for d in (status.get("decisions") or {}).values()] or None,
        "short": status.get("short") or None,
        "fine_tune": status.get("fine_tune"),
        "unsupported": status.get("unsupported"),
        "unchanged": status.get("unchanged"),
    }
    return {k: v for k, v in entry.items() if v is not None}


def publish_worker(metrics: Metrics, status: WorkerStatus) -> None:
    """Training state and run counters for ``/metrics``."""
    metrics.set_state("winnow_backend_training_state", status.state, STATES)
    metrics.set("winnow_backend_training_runs", float(status.runs), outcome="all")
    metrics.set("winnow_backend_training_runs", float(status.failures), outcome="failed")


def publish_model_active(metrics: Metrics, project: int, active: bool) -> None:
    """Whether ``project`` is answered by a trained model (1) or zero-shot (0)."""
    metrics.set("winnow_backend_trained_model_active", 1.0 if active else 0.0, project=str(project))
