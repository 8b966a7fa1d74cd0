"""The operating point of the label-issue queues: cut the ranking where precision falls.

Cleanlab's flags are a count (how many labels look wrong), not a promise about each flag: on
Fashion-MNIST at 10% noise about a third of them are right labels. A reviewer needs the top of
the queue to be trustworthy, so the flagged examples are split in two:

- **likely**: the longest prefix of the ranking whose estimated precision is at least
  ``target_precision`` (``audit.label_issue_precision``);
- **possible**: the rest of Cleanlab's flags.

The estimated precision of a prefix is the mean, over its examples, of the posterior
probability that the given label is wrong: Bayes' rule over the out-of-sample probabilities
``p(label | x)`` and Cleanlab's estimated noise matrix ``P(given = i | true = j)``
(:func:`wrong_probability`). Ranking is by that posterior too, most likely wrong first: it
weighs a confusion the noise matrix says is common (Shirt vs T-shirt) against one it says is
rare. Measured against the truth in ``benchmarks/label_noise.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cleanlab.count
import numpy as np

from analysis.validation import check_float, check_labels, check_pred_probs

PRECISION_DEFAULT = 0.9


@dataclass(frozen=True)
class OperatingPoint:
    """``ranked`` int64 ``(M,)``: Cleanlab's flagged indices, most likely wrong first;
    ``n_likely``: the first ``n_likely`` of them form the "likely" queue, the rest "possible";
    ``wrong`` float ``(N,)``: the posterior probability that each given label is wrong;
    ``running_precision`` float ``(M,)``: estimated precision of each prefix of ``ranked``.
    """

    ranked: np.ndarray
    n_likely: int
    wrong: np.ndarray
    running_precision: np.ndarray

    @property
    def likely(self) -> np.ndarray:
        return self.ranked[: self.n_likely]

    @property
    def possible(self) -> np.ndarray:
        return self.ranked[self.n_likely :]

    def estimated_precision(self, part: str) -> float | None:
        """Mean posterior over a queue ("likely" or "possible"); None when it is empty."""
        members = self.likely if part == "likely" else self.possible
        return float(self.wrong[members].mean()) if len(members) else None


def wrong_probability(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """``P(true label != given label | x, given)`` per example, float ``(N,)`` in [0, 1].

    ``pred_probs`` ``(N, K)`` out-of-sample; with the noise matrix ``T[i, j] = P(given = i |
    true = j)`` estimated by Cleanlab's confident joint, the posterior of the true class j is
    proportional to ``p_j(x) * T[given, j]``.
    """
    probs = check_pred_probs(pred_probs, "pred_probs", rows_sum_to_one=True)
    y, _ = check_labels(labels, "labels", len(probs), n_classes=probs.shape[1])
    _, noise, _, _ = cleanlab.count.estimate_py_and_noise_matrices_from_probabilities(y, probs)
    joint = probs * noise[y, :]
    total = joint.sum(axis=1)
    keep = total > 0
    out = np.ones(len(y))  # no class can explain the given label: it is wrong
    out[keep] = 1.0 - joint[keep, y[keep]] / total[keep]
    return np.clip(out, 0.0, 1.0)


def operating_point(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    is_issue: np.ndarray,
    *,
    target_precision: float = PRECISION_DEFAULT,
) -> OperatingPoint:
    """Rank Cleanlab's flags (``is_issue`` bool ``(N,)``) and cut the "likely" prefix.

    The cut is the longest prefix whose running mean of :func:`wrong_probability` is at least
    ``target_precision`` (0 when even the first flag falls short).
    """
    target_precision = check_float(target_precision, "target_precision", 0.0, 1.0)
    wrong = wrong_probability(labels, pred_probs)
    flags = np.asarray(is_issue, dtype=bool)
    if flags.shape != wrong.shape:
        raise ValueError(f"is_issue: shape {flags.shape}, expected {wrong.shape}")
    flagged = np.flatnonzero(flags)
    ranked = flagged[np.argsort(-wrong[flagged], kind="stable")].astype(np.int64)
    running = np.cumsum(wrong[ranked]) / np.arange(1, len(ranked) + 1)
    above = np.flatnonzero(running >= target_precision - 1e-12)
    n_likely = int(above.max() + 1) if len(above) else 0
    return OperatingPoint(ranked, n_likely, wrong, running)
