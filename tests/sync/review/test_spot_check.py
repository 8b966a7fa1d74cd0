"""The likely queue's spot check: a random sample of its tasks, as findings of their own."""

from __future__ import annotations

from sync.review.queues import SPOT_CHECK, queue_of
from sync.review.spot_check import spot_check_findings
from sync.review.state import Finding


def _finding(task: int, issue: str = "label_issue", sha: str | None = None) -> Finding:
    return Finding(task, issue, 1.0 - task / 1000, None, "cat", "dog", "why", sha or f"{task:064x}")


def test_samples_the_likely_queue_only() -> None:
    likely = [_finding(i) for i in range(100)]
    others = [_finding(i, "possible_label_issue") for i in range(100, 150)]
    unhashed = [Finding(500, "label_issue", 0.99, None, "cat", "dog", "why", None)]
    spot = spot_check_findings([*likely, *others, *unhashed], 30)
    assert len(spot) == 30 and {f.task_id for f in spot} < set(range(100))
    assert all(
        f.issue_type == "label_spot_check" and queue_of(f.issue_type) == SPOT_CHECK for f in spot
    )
    by_task = {f.task_id: f for f in likely}
    assert all(
        f.score == by_task[f.task_id].score and f.sha256 == by_task[f.task_id].sha256 for f in spot
    )
    assert "(30 of 100)" in spot[0].details


def test_follows_the_queue_from_sync_to_sync() -> None:
    likely = [_finding(i) for i in range(100)]
    first = {f.task_id for f in spot_check_findings(likely, 30, salt="1")}
    settled = min(first)
    second = {
        f.task_id
        for f in spot_check_findings([f for f in likely if f.task_id != settled], 30, salt="1")
    }
    assert len(first & second) == 29 and settled not in second
    assert spot_check_findings(likely, 0) == []
    assert {f.task_id for f in spot_check_findings(likely, 30, salt="2")} != first
