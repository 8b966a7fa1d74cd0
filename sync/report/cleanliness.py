"""The model report's cleanliness inputs from the project's own audit: how many labels sit in
its label-issue queues, and what acting on the likely queue is expected to buy."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.label_cleaning import CleaningGain, cleaning_gain, light_head
from analysis.report.model_report import AuditLabels
from sync.report.inputs import ReportInputs


def audit_labels(
    inputs: ReportInputs, rows: np.ndarray, classes: list[str], *, seed: int = 0
) -> AuditLabels:
    """The audit's queues over ``rows`` and what acting on its likely queue is expected to
    buy (:func:`analysis.label_cleaning.cleaning_gain`, the audit's probe cross-validated)."""
    files, issues = inputs.result.files, inputs.result.issues
    queue = issues.groupby("issue_type")["path"].agg(set)
    uris = files.loc[rows, "uri"]
    likely = uris.isin(queue.get("label_issue", set())).to_numpy()
    possible = int(uris.isin(queue.get("possible_label_issue", set())).sum())
    index = {c: i for i, c in enumerate(classes)}
    y = files.loc[rows, "label"].map(index).to_numpy(int)
    gain: CleaningGain | None = None
    if likely.any():
        guess = files.loc[rows, "suggested_label"] if "suggested_label" in files else None
        suggested = y if guess is None else guess.map(index).fillna(pd.Series(y, index=rows))
        try:
            gain = cleaning_gain(
                inputs.vectors[rows],
                y,
                likely,
                np.asarray(suggested, dtype=int),
                fit=light_head(len(classes)),
                seed=seed,
            )
        except ValueError:  # too few labels per class to cross-validate
            gain = None
    return AuditLabels(int(likely.sum()), possible, inputs.result.label_estimate, gain)
