"""The one table shape every audit reports findings in (images, boxes, detections, agreement),
so the sync, the reports and the exports read them all the same way."""

ISSUE_COLUMNS = [
    "path",
    "issue_type",
    "score",
    "group",
    "given_label",
    "suggested_label",
    "details",
]
