"""`winnow review accept` refuses a queue that reviewers found less precise than estimated,
before it talks to Label Studio; ``force`` and ``--dry-run`` go on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sync.corrections.accept import OverStatedQueue, accept
from sync.review.state import LabelReview, SyncState


class NoServer:
    """Any use of the client fails the test: the refusal comes before any request."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Label Studio was called ({name})")


def _reviewed(
    state: SyncState, right: int, total: int, estimate: float, *, spot: bool = False, first: int = 0
) -> None:
    for i in range(first, first + total):
        at = f"2026-01-01T{i // 60:02d}:{i % 60:02d}"
        confirmed = i - first < right
        state.record_review(
            1, LabelReview(i, "cat", "likely", confirmed, estimate, "rev", at, spot)
        )


def test_an_over_stated_queue_is_refused(tmp_path: Path) -> None:
    with SyncState(tmp_path / "sync.sqlite") as state:
        _reviewed(state, 15, 30, 0.9)  # 0.50 right, interval 0.33-0.67: below 0.9
        with pytest.raises(OverStatedQueue, match="15 of them wrong labels.*--force"):
            accept(NoServer(), state, 1, queue="likely", log=tmp_path / "b.jsonl", reviewer="r")
        dry = accept(
            NoServer(), state, 1, queue="likely", log=tmp_path / "b.jsonl", reviewer="r",
            dry_run=True,
        )  # fmt: skip
        assert dry.check is not None and dry.check.verdict == "over-stated"
        forced = accept(
            NoServer(), state, 1, queue="likely", log=tmp_path / "b.jsonl", reviewer="r",
            force=True,
        )  # fmt: skip
        assert forced.candidates == 0 and forced.batch is None  # no task in the queue here
    assert not (tmp_path / "b.jsonl").exists()


def test_a_queue_that_holds_its_estimate_is_not_refused(tmp_path: Path) -> None:
    with SyncState(tmp_path / "sync.sqlite") as state:
        _reviewed(state, 27, 30, 0.9)
        report = accept(
            NoServer(), state, 1, queue="likely", log=tmp_path / "b.jsonl", reviewer="r"
        )
        assert report.check is not None and report.check.verdict == "agrees"
        other = accept(
            NoServer(), state, 1, queue="possible", log=tmp_path / "b.jsonl", reviewer="r"
        )
        assert other.check is None  # nobody reviewed that queue


def test_the_spot_check_speaks_for_the_likely_queue(tmp_path: Path) -> None:
    """The queue's top held (60 of 60 right) but its random sample did not (10 of 20): the
    sample is the one that says how the rest of the queue will do."""
    with SyncState(tmp_path / "sync.sqlite") as state:
        _reviewed(state, 60, 60, 0.9)
        _reviewed(state, 10, 20, 0.9, spot=True, first=60)
        with pytest.raises(OverStatedQueue, match="^likely spot check: reviewers settled 20"):
            accept(NoServer(), state, 1, queue="likely", log=tmp_path / "b.jsonl", reviewer="r")
