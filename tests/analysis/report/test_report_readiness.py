"""Readiness items: the card check and the verdict."""

from analysis.report.readiness import CheckItem, card_check, ratio_check, verdict

CARD = """# Fashion subset
## Classes
coat, sandal, bag
## Splits
train 80% / test 20%, stratified
## Licence
MIT
## Collection
Zalando product photos, greyscale 28 x 28
"""


def test_complete_card_passes_and_placeholders_fail() -> None:
    assert card_check(CARD).passed is True
    bad = card_check(CARD.replace("MIT", "[More Information Needed]"))
    assert bad.passed is False and "placeholder" in bad.evidence
    missing = card_check("# Card\nSome words.")
    assert missing.passed is False and "licence" in missing.evidence
    assert card_check(None).passed is None


def test_verdict_ignores_unchecked_items() -> None:
    ok, skipped, failed = (
        CheckItem("a", True, ""),
        CheckItem("b", None, ""),
        CheckItem("c", False, ""),
    )
    assert verdict([ok, skipped]) and not verdict([ok, failed])


def test_ratio_check_limits() -> None:
    assert ratio_check("open", 0, 10, 0.0, "bad").passed
    assert not ratio_check("open", 1, 10, 0.0, "bad").passed
    assert ratio_check("labels", 4, 100, 0.05, "flagged").passed
    assert not ratio_check("labels", 5, 100, 0.05, "flagged").passed


def test_cleaning_check_says_whether_cleaning_pays() -> None:
    from analysis.label_cleaning import CleaningGain
    from analysis.report.readiness import CLEANING_GAIN_MAX, cleaning_check

    def gain(drop: float, relabel: float) -> CleaningGain:
        return CleaningGain(400, 30, 370, 5, {"raw": 0.80, "drop": drop, "relabel": relabel})

    pays = cleaning_check(gain(0.80 + 2 * CLEANING_GAIN_MAX, 0.79), 30)
    assert pays.passed is False
    assert "is expected to pay" in pays.evidence and "drop the 30" in pays.evidence
    assert "0.800 -> 0.820" in pays.evidence
    flat = cleaning_check(gain(0.80, 0.80 + CLEANING_GAIN_MAX / 2), 30)
    assert flat.passed is True and "not expected to pay" in flat.evidence
    assert "relabel" in flat.evidence  # the better of the two ways is the one reported
    assert cleaning_check(None, 0).passed is True  # nothing flagged: nothing to clean
    assert cleaning_check(None, 12).passed is None  # flagged but not measured
