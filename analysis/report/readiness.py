"""The go/no-go checklist of the model report. Every item is computed from the data, the
audit, the experiments or files on disk; an item that cannot be checked says so (``None``)
and does not block a go."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from analysis.label_cleaning import CleaningGain

LABEL_ISSUE_MAX = 0.05  # share of labelled images flagged by the label-issue audit
# accuracy (absolute) that acting on the likely queue may still add before cleaning "pays":
# about the spread of a cross-validated accuracy on a few hundred held-out labels
CLEANING_GAIN_MAX = 0.01
SPLIT_TV_MAX = 0.10  # total-variation distance between a split's class mix and the whole set's
CARD_TOPICS = {
    "licence": r"licen[cs]e",
    "splits": r"split",
    "classes": r"class|label",
    "collection": r"collect|source|provenance",
}
CARD_PLACEHOLDERS = re.compile(r"\bTODO\b|\bTBD\b|\bFIXME\b|More Information Needed", re.I)


@dataclass(frozen=True)
class CheckItem:
    name: str
    passed: bool | None  # None: not checked
    evidence: str


def verdict(items: list[CheckItem]) -> bool:
    """Go when no checked item failed."""
    return all(item.passed is not False for item in items)


def card_check(text: str | None) -> CheckItem:
    """A data set card is complete when it covers licence, splits, classes and collection
    and holds no template placeholder."""
    if text is None:
        return CheckItem("card complete", None, "not checked (no --card export directory)")
    missing = [
        topic for topic, pattern in CARD_TOPICS.items() if not re.search(pattern, text, re.I)
    ]
    placeholders = CARD_PLACEHOLDERS.findall(text)
    problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
        [f"{len(placeholders)} placeholder(s) such as {placeholders[0]!r}"] if placeholders else []
    )
    return CheckItem(
        "card complete",
        not problems,
        "; ".join(problems) or f"covers {', '.join(CARD_TOPICS)}; no placeholders",
    )


def ratio_check(name: str, bad: int, total: int, limit: float, what: str) -> CheckItem:
    """Passes when the share ``bad / total`` is below ``limit`` (``limit`` 0: when none is bad)."""
    share = bad / total if total else 0.0
    passed = bad == 0 if limit == 0 else share < limit
    return CheckItem(name, passed, f"{bad} of {total} {what} ({share:.1%}; limit {limit:.0%})")


def cleaning_check(gain: CleaningGain | None, n_likely: int) -> CheckItem:
    """Passes when cleaning the audit's likely queue is not expected to pay: nothing flagged,
    or neither dropping nor relabelling the flags raises the cross-validated accuracy
    (:func:`analysis.label_cleaning.cleaning_gain`) by more than ``CLEANING_GAIN_MAX``."""
    name = "cleaning would not pay"
    if n_likely == 0:
        return CheckItem(name, True, "the audit's likely label-issue queue is empty")
    if gain is None:
        return CheckItem(name, None, f"{n_likely} likely label issues; gain not measured")
    best = gain.best
    pays = gain.gain(best) > CLEANING_GAIN_MAX
    verb = "drop" if best == "drop" else "relabel"
    return CheckItem(
        name,
        not pays,
        f"cleaning is {'' if pays else 'not '}expected to pay: to {verb} the {n_likely} likely "
        f"label issues moves cross-validated accuracy {gain.accuracy['raw']:.3f} -> "
        f"{gain.accuracy[best]:.3f} ({gain.gain(best):+.3f}; limit +{CLEANING_GAIN_MAX}) on "
        f"the {gain.n_scored} unflagged labels"
        + ("; review the likely queue before training" if pays else ""),
    )


# multi-label items
MIN_HELD_OUT_POSITIVES = 5  # fewer positives make a class's AUROC, AP and threshold noise
LABEL_PREVALENCE_MAX = 0.05  # largest |class prevalence in a split - overall prevalence|


def positives_check(
    positives: Sequence[int], negatives: Sequence[int], classes: Sequence[str]
) -> CheckItem:
    """Every class needs ``MIN_HELD_OUT_POSITIVES`` positives and one negative among the
    held-out images, or its AUROC, AP and tuned threshold mean little."""
    short = [
        f"{c} ({p}+/{n}-)"
        for c, p, n in zip(classes, positives, negatives, strict=True)
        if p < MIN_HELD_OUT_POSITIVES or n < 1
    ]
    return CheckItem(
        "every class scorable",
        not short,
        (f"too few held-out positives or negatives: {', '.join(short)}" if short else "")
        or f"every class has at least {MIN_HELD_OUT_POSITIVES} held-out positives and a negative",
    )


def label_balance_check(deviation: float, worst: str) -> CheckItem:
    """Multi-label splits are balanced when every class's prevalence in every split is within
    ``LABEL_PREVALENCE_MAX`` of its overall prevalence."""
    return CheckItem(
        "splits balanced per label",
        deviation <= LABEL_PREVALENCE_MAX,
        f"largest prevalence gap {deviation:.3f} ({worst}); limit {LABEL_PREVALENCE_MAX}",
    )
