"""Finding types -> review queues (Label Studio Views), and the task fields Winnow owns.

Each queue is a saved View filtered on the task data field ``winnow_queues`` (a list of queue
keys, so one task can sit in several queues) and sorted by severity, most severe first.

Label issues come in two queues: "likely" (the top of the ranking, cut where the estimated
precision falls below ``audit.label_issue_precision``) and "possible" (the rest of Cleanlab's
flags, with annotator disagreement). Both sort on the probability that the label is wrong.
A third View, the likely queue's spot check, holds a random sample of it in task order
(:mod:`sync.review.spot_check`): settled, it checks the queue's estimated precision.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.audit import ISSUE_TYPES


@dataclass(frozen=True)
class Queue:
    key: str  # value in the task's winnow_queues list
    title: str  # the View's name
    score_field: str  # task data field the View sorts on (descending)
    ordering: str | None = None  # another order, in Label Studio's terms ("tasks:id")

    @property
    def name(self) -> str:
        """The queue's name as plain text, e.g. "near duplicates" (the readable column)."""
        return self.title.removeprefix("Review: ")


LIKELY = Queue("label_issues_likely", "Review: label issues (likely)", "winnow_label_issue_score")
POSSIBLE = Queue(
    "label_issues_possible", "Review: label issues (possible)", "winnow_label_issue_score"
)
SPOT_CHECK = Queue(
    "label_issues_spot_check",
    "Review: label issues (likely, spot check)",
    "winnow_label_issue_score",
    ordering="tasks:id",  # not by score: a half-settled sample would lean to the top
)
SPOT_CHECK_TYPE = "label_spot_check"
LABEL_QUEUES = {"likely": LIKELY, "possible": POSSIBLE}  # `winnow review accept --queue`
# review check name (sync.review.decisions.review_checks) -> the View that shows it
CHECK_QUEUES = {"likely queue": LIKELY, "likely spot check": SPOT_CHECK, "possible queue": POSSIBLE}
LABEL_QUEUE_OF = {"label_issue": "likely", "possible_label_issue": "possible"}
LABEL_ISSUE_TYPES = frozenset(LABEL_QUEUE_OF)
QUEUES = (
    LIKELY,
    SPOT_CHECK,
    POSSIBLE,
    Queue("near_duplicates", "Review: near duplicates", "winnow_severity"),
    Queue("split_leakage", "Review: split leakage", "winnow_severity"),
    Queue("image_quality", "Review: image quality", "winnow_severity"),
    Queue("pii", "Review: PII", "winnow_severity"),
    Queue("boxes", "Review: boxes", "winnow_severity"),
)
ALL_FLAGGED = "Review: all flagged"
DUPLICATE_TYPES = frozenset({"exact_duplicate", "near_duplicate", "split_leak"})
_BY_KEY = {q.key: q for q in QUEUES}
_SPECIAL = {
    "label_issue": LIKELY.key,
    "possible_label_issue": POSSIBLE.key,
    SPOT_CHECK_TYPE: SPOT_CHECK.key,
    "annotator_disagreement": POSSIBLE.key,
    "exact_duplicate": "near_duplicates",
    "near_duplicate": "near_duplicates",
    "split_leak": "split_leakage",
    "pii": "pii",
}
# Every finding type Winnow raises; flags outside this set (import provenance such as
# no_licence) belong to other jobs and are kept as they are.
MANAGED_FLAGS = frozenset((*ISSUE_TYPES, "pii", "annotator_disagreement", SPOT_CHECK_TYPE))
# The task data fields a sync writes; any other field is never changed.
FIELDS = (
    "winnow_flags",
    "winnow_queues",
    "winnow_severity",
    "winnow_label_issue_score",
    "winnow_suggested_label",
    "winnow_dup_group",
    "winnow_queue_names",  # the queues as plain text, for the Data Manager column
    "winnow_evidence",  # the evidence panel's HTML (sync.review.evidence_panel)
)
PREDICTION_VERSION = "winnow-review"


def is_managed(flag: str) -> bool:
    """True for flags a sync raises and clears (box checks are every ``box_*`` type)."""
    return flag in MANAGED_FLAGS or flag.startswith("box_")


def queue_names(keys: set[str]) -> str:
    """Queue keys as readable text in queue order, e.g. "label issues (likely), near
    duplicates"; filters keep using the ``winnow_queues`` list."""
    return ", ".join(q.name for q in QUEUES if q.key in keys)


def queue_of(issue_type: str) -> Queue:
    """The queue a finding type goes to; every other check is about the image itself."""
    if issue_type.startswith("box_"):
        return _BY_KEY["boxes"]
    return _BY_KEY[_SPECIAL.get(issue_type, "image_quality")]
