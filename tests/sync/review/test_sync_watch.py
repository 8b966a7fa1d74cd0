"""``winnow sync --watch``: periods parse strictly, and a failed round does not stop it."""

from __future__ import annotations

import pytest

from sync.review.watch import parse_period, watch
from winnow.errors import ConfigError, LabelStudioError


def test_periods_parse_and_bad_ones_are_refused() -> None:
    assert parse_period("10m") == 600 and parse_period("1h30m") == 5400
    assert parse_period("45") == 45 and parse_period("2s") == 2
    for bad in ("", "10x", "m10", "0", "1h 2m"):
        with pytest.raises(ConfigError):
            parse_period(bad)


def test_watch_keeps_going_after_a_failed_round() -> None:
    seen: list[str] = []
    rounds = iter([None, LabelStudioError("down"), None])

    def one() -> None:
        outcome = next(rounds)
        if outcome is not None:
            raise outcome
        seen.append("ok")

    sleeps: list[float] = []
    done = watch(
        one, every_s=5, on_error=lambda e: seen.append(str(e)), rounds=3, sleep=sleeps.append
    )
    assert done == 3 and seen == ["ok", "down", "ok"] and len(sleeps) == 2
