"""Reviewer verdicts bound a queue's precision and check its planted estimate."""

from __future__ import annotations

import math

import pytest

from analysis.label_issue_review import MIN_REVIEWED, ReviewCheck, check_reviews, spot_check


def _wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval from its formula, as an independent reference."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(27, 30), (0, 12), (12, 12), (40, 100)])
def test_interval_is_wilsons(k: int, n: int) -> None:
    check = check_reviews(k, n)
    low, high = _wilson(k, n)
    assert check.low == pytest.approx(low, abs=1e-6) and check.high == pytest.approx(high, abs=1e-6)
    assert check.low <= check.precision <= check.high


def test_verdicts_against_the_estimate() -> None:
    assert check_reviews(27, 30, 0.9).verdict == "agrees"
    over = check_reviews(15, 30, 0.9)  # interval 0.33-0.67
    assert over.verdict == "over-stated" and "over-stated" in over.line()
    assert check_reviews(30, 30, 0.6).verdict == "under-stated"
    assert check_reviews(0, MIN_REVIEWED - 1, 0.9).verdict == "unchecked"  # too few to say
    assert check_reviews(5, 30).verdict == "unchecked"  # nothing to check against


def test_texts_say_what_was_reviewed() -> None:
    assert check_reviews(0, 0, 0.9).line() == "not reviewed yet"
    assert check_reviews(27, 30, 0.9).line() == "reviewed 27 of 30 right (0.74-0.97)"
    text = check_reviews(15, 30, 0.9).describe("likely queue")
    assert text.startswith("likely queue: reviewers settled 30 flags, 15 of them wrong labels")
    assert text.endswith("the estimate 0.90 is over-stated")
    few = check_reviews(3, 4, 0.9).describe("possible queue")
    assert f"too few to check (at least {MIN_REVIEWED})" in few


def test_round_trips_through_a_stored_dict() -> None:
    check = check_reviews(27, 30, 0.9)
    stored = check.as_dict()
    assert stored["verdict"] == "agrees"
    assert ReviewCheck.from_dict(stored) == check


def test_refuses_impossible_counts() -> None:
    with pytest.raises(ValueError, match="confirmed"):
        check_reviews(31, 30)
    with pytest.raises(TypeError, match="reviewed"):
        check_reviews(1, 2.5)  # type: ignore[arg-type]


def test_spot_check_is_a_stable_uniform_sample() -> None:
    keys = [f"{i:064x}" for i in range(2000)]
    picked = spot_check(keys, 400)
    assert len(picked) == 400 == len(set(picked)) and picked == sorted(picked)
    # uniform over the queue: as many from its top half as from its bottom half, within
    # about 3 standard deviations (10) of 200
    assert abs(sum(i < 1000 for i in picked) - 200) < 30
    # stable: leaving out an unsampled key keeps the sample; leaving out a sampled one
    # replaces only it
    rest = [k for i, k in enumerate(keys) if i not in set(picked[:1])]
    again = {rest[i] for i in spot_check(rest, 400)}
    before = {keys[i] for i in picked}
    assert len(before & again) == 399 and keys[picked[0]] not in again
    assert spot_check(keys, 400, salt="2") != picked  # another project draws another sample
    assert spot_check(keys[:5], 30) == [0, 1, 2, 3, 4]  # a short queue is sampled whole
    assert spot_check([], 30) == [] and spot_check(keys, 0) == []
