"""How far to trust each label-issue queue, measured on the user's own data.

Nobody knows which of a project's labels are wrong, but anybody can make some wrong: plant a
small number of known label flips into a copy of the labels, run the same pipeline (out-of-
sample probabilities, Cleanlab's flags and ranking), and see where the plants rank. Repeated
over a few seeds, that is the ranking's recall at every cut, which both places the "likely"
cut and estimates each queue's precision and recall (:mod:`analysis.label_issue_cut`). Half of
the plants follow Cleanlab's estimated noise matrix (a "Shirt" becomes a "T-shirt" about as
often as the data's own errors do), half are uniform slips: nobody knows which kind a
project's errors are. ``benchmarks/label_noise.py`` prints the estimates beside the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import cleanlab.count
import numpy as np

from analysis.label_issue_cut import (
    PRECISION_DEFAULT,
    OperatingPoint,
    operating_point,
    recall_curve,
)
from analysis.label_issues import (
    C_DEFAULT,
    LabelIssues,
    find_label_issues,
    out_of_sample_probs,
)
from analysis.validation import check_float, check_int, check_labels

PLANT_FRACTION = 0.03  # of the labelled examples, per seed
MIN_PLANTS = 10
SEEDS = 3


@dataclass(frozen=True)
class QueueEstimate:
    """Estimated precision and recall of the "likely" and "possible" queues.

    ``recall_*`` is the share of planted flips that landed in that queue (``possible`` counts
    the plants found by the two queues together, so it is the recall of the whole flagged
    set); ``precision_*`` is None for an empty queue. ``plants`` per seed, ``seeds`` run;
    ``errors``: the estimated number of wrong labels the precision rests on.
    """

    precision_likely: float | None
    recall_likely: float
    precision_possible: float | None
    recall_possible: float
    plants: int
    seeds: int
    errors: float | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def line(self, part: str) -> str:
        """Human text for one queue, e.g. "est. precision 0.91, recall 0.62"."""
        p = self.precision_likely if part == "likely" else self.precision_possible
        r = self.recall_likely if part == "likely" else self.recall_possible
        shown = "n/a" if p is None else f"{p:.2f}"
        what = "recall" if part == "likely" else "recall with likely"
        return f"est. precision {shown}, {what} {r:.2f}"


@dataclass(frozen=True)
class QueueRun:
    """The pipeline on the real labels: probabilities ``(N, K)``, Cleanlab's result, the cut,
    and the planted-flip estimate (None when run without plants)."""

    probs: np.ndarray
    issues: LabelIssues
    point: OperatingPoint
    estimate: QueueEstimate | None = None


def run_queues(
    embeddings: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int | None = None,
    n_folds: int = 5,
    seed: int = 0,
    C: float = C_DEFAULT,
    target_precision: float = PRECISION_DEFAULT,
    seeds: int = SEEDS,
    plant_fraction: float = PLANT_FRACTION,
) -> QueueRun:
    """Probabilities, flags, and the likely/possible cut calibrated by ``seeds`` planted runs.

    ``embeddings`` ``(N, D)``, ``labels`` int ``(N,)``. Costs ``1 + seeds`` K-fold fits;
    ``seeds=0`` skips the plants (no estimate; the cut falls back to the model's posterior).
    """
    y, k = check_labels(labels, "labels", len(embeddings), n_classes=n_classes)
    seeds = check_int(seeds, "seeds", 0, 100)
    plant_fraction = check_float(plant_fraction, "plant_fraction", 0.0, 0.5)
    fit = {"n_classes": k, "n_folds": n_folds, "C": C}
    probs = out_of_sample_probs(embeddings, y, seed=seed, **fit)
    issues = find_label_issues(y, probs)
    if seeds == 0:
        point = operating_point(y, probs, issues.ranked, target_precision=target_precision)
        return QueueRun(probs, issues, point)
    n = min(len(y) // 2, max(MIN_PLANTS, int(round(plant_fraction * len(y)))))
    noise = _noise_matrix(y, probs)
    curves = []
    for s in range(seeds):
        planted_labels, planted = plant_flips(y, noise, n, seed=1000 + s)
        planted_probs = out_of_sample_probs(embeddings, planted_labels, seed=s, **fit)
        ranked = find_label_issues(planted_labels, planted_probs).ranked
        curves.append(recall_curve(ranked, planted, len(issues.ranked)))
    recall = np.mean(curves, axis=0)
    point = operating_point(
        y, probs, issues.ranked, recall=recall, target_precision=target_precision
    )
    estimate = QueueEstimate(
        precision_likely=point.estimated_precision("likely"),
        recall_likely=float(point.estimated_recall("likely")),
        precision_possible=point.estimated_precision("possible"),
        recall_possible=float(point.estimated_recall("possible")),
        plants=n,
        seeds=seeds,
        errors=point.n_errors,
    )
    return QueueRun(probs, issues, point, estimate)


def plant_flips(
    labels: np.ndarray, noise_matrix: np.ndarray | None, n: int, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``labels`` with ``n`` of them changed; returns (copy, planted indices).

    The new label of an example labelled j is drawn half from column j of ``noise_matrix``
    ``(K, K)`` (``P(given = i | true = j)``) without its diagonal, half uniformly from the
    other classes: real errors may follow the data's confusions or be plain slips.
    """
    y = np.asarray(labels, dtype=np.int64)
    k = int(y.max()) + 1 if noise_matrix is None else len(noise_matrix)
    rng = np.random.default_rng(seed)
    n = check_int(n, "n", 0, len(y))
    planted = np.sort(rng.choice(len(y), n, replace=False))
    out = y.copy()
    for i in planted:
        weights = _other(k, y[i], None if noise_matrix is None else noise_matrix[:, y[i]])
        out[i] = rng.choice(k, p=weights)
    return out, planted


def _other(k: int, label: int, column: np.ndarray | None) -> np.ndarray:
    """Half uniform over the other classes, half the noise matrix's off-diagonal column."""
    uniform = np.ones(k)
    uniform[label] = 0.0
    uniform /= uniform.sum()
    if column is None:
        return uniform
    matrix = np.array(column, dtype=float)
    matrix[label] = 0.0
    if matrix.sum() <= 0:
        return uniform
    return 0.5 * uniform + 0.5 * matrix / matrix.sum()


def _noise_matrix(labels: np.ndarray, probs: np.ndarray) -> np.ndarray | None:
    try:
        return cleanlab.count.estimate_py_and_noise_matrices_from_probabilities(labels, probs)[1]
    except ValueError:  # degenerate classes: fall back to uniform plants
        return None
