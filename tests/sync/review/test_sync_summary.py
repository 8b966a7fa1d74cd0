"""The sync summary prints what reviewers found in each label-issue queue."""

from __future__ import annotations

from analysis.label_issue_review import check_reviews
from sync.review.cli import render
from sync.review.job import SyncSummary
from sync.review.pull import PullReport
from sync.review.queues import LIKELY, SPOT_CHECK
from winnow.cli.console import console


def _render(summary: SyncSummary) -> str:
    with console.capture() as out:
        render(summary)
    return " ".join(out.get().split())  # rich wraps long lines


def test_prints_each_check_and_reminds_of_an_unsettled_spot_check() -> None:
    summary = SyncSummary(project=3, pulled=PullReport(total=200))
    summary.findings = {LIKELY.title: 40, SPOT_CHECK.title: 30}
    text = _render(summary)
    assert "likely spot check: no flag settled by a reviewer yet" in text
    summary.label_reviews = {
        "likely queue": check_reviews(27, 30, 0.9).as_dict(),
        "likely spot check": check_reviews(15, 30, 0.9).as_dict(),
    }
    text = _render(summary)
    assert "likely queue: reviewers settled 30 flags, 27 of them wrong labels" in text
    assert "likely spot check: reviewers settled 30 flags, 15 of them wrong labels" in text
    assert "the estimate 0.90 is over-stated" in text and "no flag settled" not in text
