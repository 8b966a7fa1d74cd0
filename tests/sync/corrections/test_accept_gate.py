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


def _reviewed(state: SyncState, right: int, total: int, estimate: float) -> None:
    for i in range(total):
        review = LabelReview(i, "cat", "likely", i < right, estimate, "rev", f"2026-01-{i:02d}")
        state.record_review(1, review)


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
