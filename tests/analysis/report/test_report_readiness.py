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
