"""Reviewers' verdicts check the planted estimate of a label-issue queue.

The planted estimate (:mod:`analysis.label_issue_estimate`) says how far to trust a queue
before anyone reviews it, and it has known blind spots: a weak probe, errors that repeat
fixed class pairs, and a count of wrong labels that cannot be pinned from the probe's
probabilities alone (``benchmarks/label_noise.py``: within 0.1 of the truth in 21 of 48 runs
on Fashion-MNIST). Every task a reviewer settles is ground truth for the queue it sat in: a
changed label confirms the flag, a kept one refutes it. A few dozen of them bound the
queue's precision (a Wilson interval, :func:`scipy.stats.binomtest`), which is what a team
should look at before accepting the rest of the queue in bulk.

Reviewers work a View from its most severe task down, so the tasks they settle first are
the queue's top, and their precision is an upper estimate for the rest of it. A spot check
is a uniform random sample of the queue (:func:`spot_check`) that, settled, estimates its
precision without that lean. Measured on the 8-draw benchmark runs (``benchmarks/
label_noise.py --review``): of 16 likely queues on Fashion-MNIST promising more than 0.1
above their truth, 30 settled from the top called none over-stated, a random 30 called 8, a
random 50 called 12; the random 30's precision was within 0.1 of the queue's in 42 of 46.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import binomtest

from analysis.validation import check_int

CONFIDENCE = 0.95
# Fewer reviewed tasks than this and the interval is too wide to check anything (at 10 the
# 95% interval of 9 right flags is 0.60-0.98).
MIN_REVIEWED = 10


@dataclass(frozen=True)
class ReviewCheck:
    """``reviewed`` tasks of one queue settled by reviewers, ``confirmed`` of them with a
    changed label (the flag was right); ``low``/``high``: the :data:`CONFIDENCE` interval of
    the queue's precision among them (None without reviews); ``estimate``: the planted
    estimate of the queue's precision it is checked against, or None."""

    reviewed: int
    confirmed: int
    low: float | None
    high: float | None
    estimate: float | None = None

    @property
    def precision(self) -> float | None:
        return self.confirmed / self.reviewed if self.reviewed else None

    @property
    def verdict(self) -> str:
        """ "unchecked" (fewer than :data:`MIN_REVIEWED` reviews, or no estimate), "agrees" (the
        estimate lies in the interval), "over-stated" (the interval lies below it) or
        "under-stated" (above it)."""
        if self.reviewed < MIN_REVIEWED or self.estimate is None or self.low is None:
            return "unchecked"
        if self.estimate > self.high:
            return "over-stated"
        if self.estimate < self.low:
            return "under-stated"
        return "agrees"

    def line(self) -> str:
        """Short text for a View title or a summary, e.g. "reviewed 27 of 30 right (0.74-0.97)"."""
        if not self.reviewed:
            return "not reviewed yet"
        text = f"reviewed {self.confirmed} of {self.reviewed} right"
        if self.low is not None:
            text += f" ({self.low:.2f}-{self.high:.2f})"
        if self.verdict == "over-stated":
            text += ": the estimate is over-stated"
        return text

    def describe(self, name: str) -> str:
        """A sentence for a summary, e.g. "likely queue: reviewers settled 30 flags, 27 of them
        wrong labels (0.90; 95% interval 0.74-0.97); the estimate 0.90 agrees"."""
        if not self.reviewed:
            return f"{name}: no flag settled by a reviewer yet"
        text = (
            f"{name}: reviewers settled {self.reviewed} flags, {self.confirmed} of them "
            f"wrong labels ({self.precision:.2f}; {CONFIDENCE:.0%} interval "
            f"{self.low:.2f}-{self.high:.2f})"
        )
        if self.estimate is None:
            return text
        said = {
            "unchecked": f"too few to check (at least {MIN_REVIEWED})",
            "agrees": "agrees",
        }.get(self.verdict, f"is {self.verdict}")
        return f"{text}; the estimate {self.estimate:.2f} {said}"

    @classmethod
    def from_dict(cls, stored: dict) -> ReviewCheck:
        """Back from :meth:`as_dict` (the verdict is derived, not stored)."""
        return cls(**{k: stored.get(k) for k in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, float | int | str | None]:
        out: dict[str, float | int | str | None] = {
            k: getattr(self, k) for k in self.__dataclass_fields__
        }
        return {**out, "verdict": self.verdict}


def check_reviews(confirmed: int, reviewed: int, estimate: float | None = None) -> ReviewCheck:
    """The interval of a queue's precision from ``confirmed`` right flags out of ``reviewed``
    settled tasks, checked against the planted ``estimate`` (None: nothing to check)."""
    reviewed = check_int(reviewed, "reviewed", 0, None)
    confirmed = check_int(confirmed, "confirmed", 0, reviewed)
    if reviewed == 0:
        return ReviewCheck(0, 0, None, None, estimate)
    ci = binomtest(confirmed, reviewed).proportion_ci(CONFIDENCE, method="wilson")
    return ReviewCheck(reviewed, confirmed, float(ci.low), float(ci.high), estimate)


def spot_check(keys: Sequence[str], size: int, *, salt: str = "") -> list[int]:
    """Indices of a uniform random sample of ``size`` of ``keys`` (all of them when fewer).

    The sample is the ``size`` keys with the smallest salted sha256: random with respect to
    anything the keys do not encode, and stable as the queue changes. A task stays sampled
    while it is in the queue and nothing below it leaves, and one that leaves (settled by a
    reviewer) is replaced by the next, so every settled task is a fresh random draw from
    what is still unreviewed. ``keys``: content hashes of the queue's tasks."""
    size = check_int(size, "size", 0, None)
    ranks = sorted(
        range(len(keys)), key=lambda i: hashlib.sha256(f"{salt}:{keys[i]}".encode()).digest()
    )
    return sorted(ranks[:size])
