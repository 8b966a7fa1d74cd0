"""The likely queue's spot check: a random sample of it that reviewers settle in full.

Reviewers work the likely View from its most severe task down, and the top of a queue is
more precise than the rest (on the 8-draw benchmark runs the top 30 were 0.05 more precise
than the whole queue on Fashion-MNIST, 0.16 on the Tux Paint stamps), so the tasks they settle
first cannot check the queue's estimated precision. The spot check can: ``sync.
label_spot_check`` tasks (default 30) drawn at random from the likely queue
(:func:`analysis.label_issue_review.spot_check`, by content hash, so the sample holds from
sync to sync), each carrying a ``label_spot_check`` finding that puts it in its own View,
in task order. A settled task leaves the queue and the next sync draws another, so the View
always offers unsettled ones; the verdicts on them are kept apart (``LabelReview.spot``).
"""

from __future__ import annotations

from analysis.label_issue_review import spot_check
from sync.review.queues import SPOT_CHECK_TYPE
from sync.review.state import Finding


def spot_check_findings(findings: list[Finding], size: int, *, salt: str = "") -> list[Finding]:
    """A ``label_spot_check`` finding for each sampled task of the likely queue (tasks
    without a content hash cannot be drawn stably and are left out). ``salt``: varies the
    draw, e.g. by project, so two projects of the same images do not sample alike."""
    likely = [f for f in findings if f.issue_type == "label_issue" and f.sha256]
    picked = spot_check([f.sha256 or "" for f in likely], size, salt=salt)
    share = f"{len(picked)} of {len(likely)}"
    return [
        Finding(
            task_id=likely[i].task_id,
            issue_type=SPOT_CHECK_TYPE,
            score=likely[i].score,
            group=None,
            given_label=likely[i].given_label,
            suggested_label=None,
            details=f"drawn at random from the likely label-issue queue ({share}): settle "
            "every task of the spot-check View (keep the label or change it) to check the "
            "queue's estimated precision",
            sha256=likely[i].sha256,
        )
        for i in picked
    ]
