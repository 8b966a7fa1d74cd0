"""The status document: per-project findings survive a restart; /health and /metrics read it."""

from __future__ import annotations

import json

from ml_backend.metrics import Metrics
from ml_backend.training.status import (
    ProjectStatus,
    health_document,
    publish_model_active,
    publish_worker,
)
from ml_backend.training.worker import WorkerStatus


def test_saved_findings_are_read_back_by_a_fresh_store(tmp_path):
    status = ProjectStatus(tmp_path)
    assert status.get(3) == {}  # before any run
    status.put(3, {"trained": True})  # memory only
    assert status.get(3) == {"trained": True}
    assert not (tmp_path / "3" / "status.json").exists()
    status.save(3, {"trained": True, "version": "v1"})
    assert json.loads((tmp_path / "3" / "status.json").read_text())["version"] == "v1"
    restarted = ProjectStatus(tmp_path)
    assert restarted.get(3) == {"trained": True, "version": "v1"}
    # /health lists a restarted backend's projects before any request names them
    assert ProjectStatus(tmp_path).known() == {3: {"trained": True, "version": "v1"}}


def test_an_unreadable_status_file_counts_as_no_run(tmp_path):
    (tmp_path / "4").mkdir()
    (tmp_path / "4" / "status.json").write_text("{not json")
    assert ProjectStatus(tmp_path).get(4) == {}


def test_health_lists_the_version_per_project_without_exception_text():
    worker = WorkerStatus("failed", "project 4: ValueError: boom", 2, 1, 0, failed_project=4)
    assert health_document(worker, {}, zero_shot_class="winnow-zero-shot-x") == {
        "model_class": "winnow-zero-shot-x",
        "training": "failed",
        "training_error": "the last training run of project 4 failed; see the log",
        "models": None,
        "projects": None,
    }
    projects = {1: {"version": "v1"}, 2: {}}
    doc = health_document(worker, projects, zero_shot_class="winnow-zero-shot-x")
    assert doc["models"] == {"1": "v1", "2": None}


def test_metrics_carry_the_worker_state_and_the_active_model():
    metrics = Metrics()
    publish_worker(metrics, WorkerStatus("training", None, runs=5, failures=2, coalesced=1))
    assert metrics.value("winnow_backend_training_state", state="training") == 1.0
    assert metrics.value("winnow_backend_training_state", state="idle") == 0.0
    assert metrics.value("winnow_backend_training_runs", outcome="all") == 5.0
    assert metrics.value("winnow_backend_training_runs", outcome="failed") == 2.0
    publish_model_active(metrics, 7, True)
    assert metrics.value("winnow_backend_trained_model_active", project="7") == 1.0
    publish_model_active(metrics, 7, False)
    assert metrics.value("winnow_backend_trained_model_active", project="7") == 0.0
