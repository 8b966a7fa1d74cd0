"""The training worker: one run at a time, requests during a run coalesced into one."""

from __future__ import annotations

import threading

from ml_backend.training.worker import TrainingWorker, TrainRequest


class Recorder:
    """A run function that blocks until released, recording what it was asked to do."""

    def __init__(self, fail_on: set[int] = frozenset()):
        self.calls: list[tuple[int, bool, list[str]]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.fail_on = fail_on

    def __call__(self, project: int, request: TrainRequest) -> None:
        self.calls.append((project, request.fine_tune, list(request.reasons)))
        self.started.set()
        self.release.wait(10)
        if project in self.fail_on:
            raise RuntimeError("label 'lion' is not in the config")


def test_requests_during_a_run_become_one_follow_up():
    run = Recorder()
    worker = TrainingWorker(run)
    try:
        assert worker.request(1, TrainRequest(False, ["first"]))
        assert run.started.wait(5)
        assert worker.status().state == "training"
        assert worker.request(1, TrainRequest(False, ["a"]))  # pending now
        assert not worker.request(1, TrainRequest(True, ["b"]))  # merged
        assert not worker.request(1, TrainRequest(False, ["c"]))  # merged
        assert worker.request(2, TrainRequest(False, ["other project"]))
        run.release.set()
        assert worker.wait_idle(10)
        assert run.calls == [
            (1, False, ["first"]),
            (1, True, ["a", "b", "c"]),
            (2, False, ["other project"]),
        ]
        status = worker.status()
        assert (status.state, status.runs, status.coalesced, status.failures) == ("idle", 3, 2, 0)
    finally:
        worker.close()


def test_a_crashing_run_is_recorded_and_the_next_one_runs():
    run = Recorder(fail_on={5})
    run.release.set()
    changes = []
    worker = TrainingWorker(run, on_change=changes.append)
    try:
        worker.request(5, TrainRequest(True, ["START_TRAINING"]))
        assert worker.wait_idle(10)
        status = worker.status()
        assert status.state == "failed" and status.failures == 1
        assert "RuntimeError: label 'lion' is not in the config" in status.last_error
        assert "project 5" in status.last_error
        worker.request(6, TrainRequest(False, []))
        assert worker.wait_idle(10)
        assert worker.status().state == "idle" and worker.status().last_error is None
        assert {c.state for c in changes} == {"idle", "training", "failed"}
    finally:
        worker.close()


def test_closed_worker_refuses_requests():
    worker = TrainingWorker(Recorder())
    worker.close()
    assert not worker.request(1, TrainRequest(False, []))
