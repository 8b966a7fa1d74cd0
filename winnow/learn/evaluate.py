"""One number per model on held-out annotations, so two models compare like for like.

Single-label: accuracy of the top class. Multi-label: micro-averaged F1 of the classes at
probability >= 0.5 (accuracy over all class decisions would reward predicting "absent").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MULTI_LABEL_THRESHOLD = 0.5


def holdout_score(
    probs: np.ndarray, labels: Sequence[Sequence[str]], classes: Sequence[str], *, multi_label: bool
) -> float | None:
    """Score in [0, 1] of ``(N, K)`` probabilities against label lists; None when N = 0."""
    if len(labels) == 0:
        return None
    if len(probs) != len(labels) or probs.shape[1] != len(classes):
        raise ValueError(f"probs {probs.shape} do not match {len(labels)} rows x {len(classes)}")
    index = {c: k for k, c in enumerate(classes)}
    truth = np.zeros(probs.shape, dtype=bool)
    for row, names in enumerate(labels):
        truth[row, [index[n] for n in names]] = True
    if not multi_label:
        return float(truth[np.arange(len(truth)), probs.argmax(axis=1)].mean())
    predicted = probs >= MULTI_LABEL_THRESHOLD
    hits = float((predicted & truth).sum())
    total = float(predicted.sum() + truth.sum())
    return 2 * hits / total if total else 1.0
