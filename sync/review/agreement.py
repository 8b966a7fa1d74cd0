"""Annotator disagreement: tasks that several people labelled differently.

Each annotator's latest non-cancelled annotation counts once. A task whose annotators split
becomes an ``annotator_disagreement`` finding in the label-issues queue, most severe when the
vote is even; the majority label is the given label. Project-wide agreement (Fleiss' kappa)
and class names that look like one class ("cat"/"cats") go into the sync summary.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from analysis.agreement import count_table, disagreements, fleiss_kappa
from analysis.findings import ISSUE_COLUMNS
from analysis.ontology import propose_merges
from sync.review.state import TaskRow
from sync.review.taskinfo import annotation_labels, label_key, who
from winnow.labelstudio.label_config import LabelControl

ISSUE_TYPE = "annotator_disagreement"


def annotations_table(tasks: list[TaskRow], control: LabelControl) -> pd.DataFrame:
    """``task_id, annotator, label`` (label = the sorted labels joined), one per annotator."""
    rows = []
    for task in tasks:
        for annotation in task.annotations:
            labels = annotation_labels(annotation, control)
            if annotation.get("was_cancelled") or not labels:
                continue
            rows.append((task.task_id, who(annotation), label_key(labels)))
    frame = pd.DataFrame(rows, columns=["task_id", "annotator", "label"])
    return frame.drop_duplicates(["task_id", "annotator"], keep="last")


def disagreement_issues(tasks: list[TaskRow], control: LabelControl) -> pd.DataFrame:
    """Findings in the audit's shape; ``path`` is ``task:<id>`` like the audit table's."""
    table = annotations_table(tasks, control)
    found = disagreements(table) if len(table) else pd.DataFrame()
    rows = []
    for row in found.itertuples(index=False):
        votes = "; ".join(f"{label} ({', '.join(names)})" for label, names in row.labels.items())
        severity = min(1.0, 2.0 * (1.0 - row.majority_share))  # an even split is 1.0
        rows.append(
            {
                "path": f"task:{row.task_id}",
                "issue_type": ISSUE_TYPE,
                "score": round(severity, 4),
                "group": None,
                "given_label": row.majority_label,
                "suggested_label": None,
                "details": f"annotators disagree: {votes}",
            }
        )
    return pd.DataFrame(rows, columns=ISSUE_COLUMNS)


def ontology_warnings(tasks: list[TaskRow], control: LabelControl) -> list[str]:
    """Class names of the label config that look like one class ("cat"/"cats"), as
    sentences proposing to keep the most used name."""
    names = list(control.labels)
    used = Counter(
        label for t in tasks for a in t.annotations for label in annotation_labels(a, control)
    )
    counts = np.array([used.get(n, 0) for n in names], dtype=float)
    return [
        f"keep {p.keep!r}, merge {', '.join(map(repr, p.merge))} ({'; '.join(p.reasons)})"
        for p in propose_merges(names, counts=counts)
    ]


def project_kappa(tasks: list[TaskRow], control: LabelControl) -> float | None:
    """Fleiss' kappa over the tasks with 2+ annotations; None when there are none."""
    table = annotations_table(tasks, control)
    shared = table[table.groupby("task_id")["task_id"].transform("size") >= 2]
    if shared.empty:
        return None
    kappa = fleiss_kappa(count_table(shared).to_numpy())
    return None if math.isnan(kappa) else round(float(kappa), 4)
