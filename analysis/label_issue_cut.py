"""The operating point of the label-issue queues: cut the ranking where precision falls.

Cleanlab's flags are a count (how many labels look wrong), not a promise about each flag: on
Fashion-MNIST at 10% noise about a third of them are right labels. A reviewer needs the top of
the queue to be trustworthy, so the flagged examples, ranked by Cleanlab's label quality
(self-confidence, lowest first), are split in two:

- **likely**: the longest prefix of the ranking whose estimated precision is at least
  ``target_precision`` (``audit.label_issue_precision``);
- **possible**: the rest of Cleanlab's flags.

Why not trust the model's probabilities for the precision: the out-of-sample probabilities of
a linear probe are under-confident on look-alike classes, so the mean posterior that a label
is wrong (:func:`wrong_probability`) put the 0.9 cut at 5-13% of the errors, while on uniform
noise the top 70-76% of them are 0.86-0.90 precise (``benchmarks/label_noise.py``). Instead
the ranking is calibrated with known errors: label flips planted into a copy of the labels
and run through the same pipeline (:mod:`analysis.label_issue_estimate`) give the recall
``r(k)`` of the ranking at each cut ``k`` (:func:`recall_curve`). With ``E`` real errors in
the data (:func:`count_errors`: Cleanlab's count or the expected count under its noise
model, bounded by the plants), the top ``k`` hold about ``r(k) * E`` of them, so their
precision is about ``min(1, r(k) * E / k)`` (:func:`precision_curve`). The self-confidence
ranking beat the posterior ranking by 0.19 precision at recall 0.8 on 10% uniform noise
(5,000 Fashion-MNIST images) and lost 0.08 on class-conditional noise; it is Cleanlab's own.
"""

from __future__ import annotations

from dataclasses import dataclass

import cleanlab.count
import numpy as np

from analysis.validation import check_float, check_labels, check_pred_probs

PRECISION_DEFAULT = 0.9
# E's upper bound k / r(k) is taken only where the plants' recall is at least this: at small k
# a handful of plants decide r(k) and the bound is noise (measured: with 0.1-0.3 the likely
# queue swung between 3% and 72% of the errors on 10% Fashion-MNIST noise).
MIN_BOUND_RECALL = 0.5


@dataclass(frozen=True)
class OperatingPoint:
    """``ranked`` int64 ``(M,)``: Cleanlab's flagged indices, most likely wrong first;
    ``n_likely``: the first ``n_likely`` of them form the "likely" queue, the rest "possible";
    ``wrong`` float ``(N,)``: the posterior probability that each given label is wrong (evidence
    shown to reviewers); ``running_precision`` float ``(M,)``: estimated precision of each
    prefix of ``ranked``; ``recall`` float ``(M + 1,)`` or None: the planted flips' recall at
    each cut ``k = 0..M``; ``n_errors``: the estimated number of wrong labels, or None when no
    plants calibrated the cut.
    """

    ranked: np.ndarray
    n_likely: int
    wrong: np.ndarray
    running_precision: np.ndarray
    recall: np.ndarray | None = None
    n_errors: float | None = None

    @property
    def likely(self) -> np.ndarray:
        return self.ranked[: self.n_likely]

    @property
    def possible(self) -> np.ndarray:
        return self.ranked[self.n_likely :]

    def estimated_precision(self, part: str) -> float | None:
        """Estimated precision of a queue ("likely" or "possible"); None when it is empty."""
        lo, hi = (0, self.n_likely) if part == "likely" else (self.n_likely, len(self.ranked))
        if hi <= lo:
            return None
        if self.recall is None or self.n_errors is None:
            return float(self.wrong[self.ranked[lo:hi]].mean())
        found = (self.recall[hi] - self.recall[lo]) * self.n_errors
        return float(np.clip(found / (hi - lo), 0.0, 1.0))

    def estimated_recall(self, part: str) -> float | None:
        """Planted flips' recall of "likely", or of both queues together for "possible"."""
        if self.recall is None:
            return None
        return float(self.recall[self.n_likely if part == "likely" else len(self.ranked)])


def wrong_probability(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """``P(true label != given label | x, given)`` per example, float ``(N,)`` in [0, 1].

    ``pred_probs`` ``(N, K)`` out-of-sample; with the noise matrix ``T[i, j] = P(given = i |
    true = j)`` estimated by Cleanlab's confident joint, the posterior of the true class j is
    proportional to ``p_j(x) * T[given, j]``. Under-confident on look-alike classes, so it is
    evidence for a reviewer, not the queue's precision (see the module docstring).
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


def recall_curve(planted_ranked: np.ndarray, planted: np.ndarray, n_cuts: int) -> np.ndarray:
    """Share of ``planted`` found above each cut ``k = 0..n_cuts`` of the unplanted ranking.

    ``planted_ranked`` int ``(M',)``: the flagged indices of a run on the planted labels, most
    likely wrong first. The cut ``k`` of the real ranking corresponds to the point of the
    planted ranking where ``k`` non-planted flags have been passed: the plants then sit where
    they would rank among the real flags, and the scores of the two runs need not agree (the
    plants shift the noise estimate). Returns float ``(n_cuts + 1,)``, non-decreasing, 0 at 0.
    """
    ranked = np.asarray(planted_ranked, dtype=np.int64)
    is_plant = np.isin(ranked, planted)
    plants_above = np.concatenate([[0], np.cumsum(is_plant)])
    others_above = np.concatenate([[0], np.cumsum(~is_plant)])
    # the first position of the planted ranking with k non-plants above it (the end when the
    # planted run flagged fewer than k others)
    end = np.searchsorted(others_above, np.arange(n_cuts + 1), side="left")
    return plants_above[np.minimum(end, len(ranked))] / max(len(planted), 1)


def count_errors(labels: np.ndarray, pred_probs: np.ndarray, recall: np.ndarray) -> float:
    """Estimated number of wrong labels ``E``: the smallest of three upper-ish estimates.

    Cleanlab's count (``num_label_issues``, off-diagonal of the confident joint) also counts
    the probe's own mistakes on correct labels (Tux Paint: 127 for 76 true errors; with no
    injected noise it flags 33 stamps, about 29 of them plainly right, such as a duck under
    "animals"). Plants cannot remove that floor: they measure how often an error is flagged,
    not how many right labels are. The expected count under Cleanlab's noise model, the sum
    of :func:`wrong_probability`, is below it where the probe is unsure (Fashion-MNIST, 10%
    class-conditional noise: 476 for 500 errors, against 571 for the count). The plants bound
    both: the top ``k`` hold at most ``k`` errors, which are ``r(k)`` of all, so
    ``E <= k / r(k)``, tight only where the top of the ranking is pure
    (:data:`MIN_BOUND_RECALL`). ``recall`` float ``(M + 1,)`` from :func:`recall_curve`.
    """
    cleanlab_count = float(cleanlab.count.num_label_issues(labels, pred_probs))
    expected = float(wrong_probability(labels, pred_probs).sum())
    estimate = min(cleanlab_count, expected)
    cuts = np.arange(len(recall))
    usable = (recall >= MIN_BOUND_RECALL) & (cuts > 0)
    if not usable.any():
        return estimate
    return float(min(estimate, (cuts[usable] / recall[usable]).min()))


def precision_curve(recall: np.ndarray, n_errors: float) -> np.ndarray:
    """Estimated precision of each prefix ``k = 1..M``: ``min(1, r(k) * E / k)``, ``(M,)``."""
    k = np.arange(1, len(recall))
    return np.clip(np.asarray(recall[1:]) * n_errors / k, 0.0, 1.0)


def cut(running_precision: np.ndarray, target_precision: float) -> int:
    """The largest ``k`` whose prefix's estimated precision reaches the target (0 if none)."""
    target_precision = check_float(target_precision, "target_precision", 0.0, 1.0)
    above = np.flatnonzero(np.asarray(running_precision) >= target_precision - 1e-12)
    return int(above.max() + 1) if len(above) else 0


def operating_point(
    labels: np.ndarray,
    pred_probs: np.ndarray,
    ranked: np.ndarray,
    *,
    recall: np.ndarray | None = None,
    target_precision: float = PRECISION_DEFAULT,
) -> OperatingPoint:
    """Cut Cleanlab's ranked flags (``ranked`` int ``(M,)``, most likely wrong first).

    With ``recall`` ``(M + 1,)`` from planted flips, the cut uses :func:`precision_curve`;
    without plants it falls back to the running mean of :func:`wrong_probability`, which is
    cautious (too short a queue) on under-confident models.
    """
    wrong = wrong_probability(labels, pred_probs)
    ranked = np.asarray(ranked, dtype=np.int64)
    if recall is None:
        running = np.cumsum(wrong[ranked]) / np.arange(1, len(ranked) + 1)
        return OperatingPoint(ranked, cut(running, target_precision), wrong, running)
    recall = np.asarray(recall, dtype=float)
    if recall.shape != (len(ranked) + 1,):
        raise ValueError(f"recall: shape {recall.shape}, expected ({len(ranked) + 1},)")
    n_errors = count_errors(labels, pred_probs, recall)
    running = precision_curve(recall, n_errors)
    n_likely = cut(running, target_precision)
    return OperatingPoint(ranked, n_likely, wrong, running, recall, n_errors)
