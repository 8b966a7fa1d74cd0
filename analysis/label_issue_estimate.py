"""How far to trust each label-issue queue, measured on the user's own data.

Nobody knows which of a project's labels are wrong, but anybody can make some wrong: plant a
small number of known label flips into a copy of the labels, run the same pipeline (out-of-
sample probabilities, Cleanlab's flags and ranking), and see where the plants rank. Repeated
over a few seeds, that is the ranking's recall at every cut, which both places the "likely"
cut and estimates each queue's precision and recall (:mod:`analysis.label_issue_cut`). The
plants follow Cleanlab's estimated noise matrix (a "Shirt" becomes a "T-shirt" about as often
as the data's own errors do): uniform slips are easier to find than real errors, which go to
look-alike classes. Half-uniform plants estimated the likely queue's recall at 0.52-0.55 for
0.17-0.42 true on class-conditional noise (5,000 Fashion-MNIST images); noise-matrix plants
come within 0.15. They land on labels that are probably right (:func:`plant_flips`' pool).
Small sets are the exception: at 600 images the probe's noise matrix is mostly look-alike
pairs and the plants understate recall on uniform noise (0.69 for 0.81). Where the noise is
one systematic flip per class the probe partly learns it, and the plants that leave that
pattern are found first, so the likely queue's precision is over-estimated there (0.75-0.88
true for 0.90 at 5-20% such noise) and marked (:data:`MAX_NOISE_CONCENTRATION`).
``benchmarks/label_noise.py --plants --draws`` prints the estimates beside the truth over
several noise draws.
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
    wrong_probability,
)
from analysis.label_issues import (
    C_DEFAULT,
    PROBE_DEFAULT,
    PROBES,
    LabelIssues,
    find_label_issues,
    label_graph,
    out_of_sample_probs,
)
from analysis.validation import check_choice, check_float, check_int, check_labels

PLANT_FRACTION = 0.03  # of the labelled examples, per seed
MIN_PLANTS = 10
SEEDS = 3
# How a planted flip picks its new label (see plant_flips); the default is measured in
# benchmarks/label_noise.py.
PLANTS = ("mixed", "noise", "confusion", "uniform")
PLANTS_DEFAULT = "noise"
# Below this estimated accuracy of the probe on right labels, the precision estimate is
# marked unreliable: it counts the probe's own mistakes on right labels as wrong labels, and
# plants cannot tell them apart. Measured in benchmarks/label_noise.py over 8 noise draws: on
# the Tux Paint stamps (probe accuracy about 0.7) the estimate missed the 0.1 band in all 48
# runs, with the likely queue's precision over-estimated by 0.2-0.5, and every run was marked;
# on 5,000 Fashion-MNIST images (about 0.87) it held in 21 of 48 and 1 run was marked.
MIN_PROBE_ACCURACY = 0.8
# Above this noise concentration (:func:`noise_concentration`) the precision estimate is marked
# as likely over-stated: when each class's errors go mostly to one other class, the probe
# partly learns the flip, and plants, which also leave that pattern, are found before the real
# errors. Measured on 5,000 Fashion-MNIST images (10 classes; 4 noise draws each): uniform
# noise 0.10-0.26, one fixed wrong class per class 0.45-0.64, nothing injected 0.40; over 8
# draws the likely queue promised 0.90 for 0.75-0.88 true on the fixed flips
# (benchmarks/label_noise.py). At 10 classes the bar is half of each class's errors going to
# one class.
MAX_NOISE_CONCENTRATION = 0.44


@dataclass(frozen=True)
class QueueEstimate:
    """Estimated precision and recall of the "likely" and "possible" queues.

    ``recall_*`` is the share of planted flips that landed in that queue (``possible`` counts
    the plants found by the two queues together, so it is the recall of the whole flagged
    set); ``precision_*`` is None for an empty queue. ``plants`` per seed, ``seeds`` run;
    ``errors``: the estimated number of wrong labels the precision rests on;
    ``probe_accuracy``: the out-of-sample probe's estimated accuracy on right labels, its
    agreement with the given labels over the share estimated right (below
    :data:`MIN_PROBE_ACCURACY` the precision is marked unreliable); ``noise_concentration``:
    how much each class's estimated errors go to one other class (above
    :data:`MAX_NOISE_CONCENTRATION` the precision is marked as likely over-stated).
    """

    precision_likely: float | None
    recall_likely: float
    precision_possible: float | None
    recall_possible: float
    plants: int
    seeds: int
    errors: float | None = None
    probe_accuracy: float | None = None
    noise_concentration: float | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @property
    def warning(self) -> str | None:
        """Why the precision should not be trusted, or None (see :func:`estimate_warning`)."""
        return estimate_warning(self.as_dict())

    def line(self, part: str) -> str:
        """Human text for one queue, e.g. "est. precision 0.91, recall 0.62"."""
        p = self.precision_likely if part == "likely" else self.precision_possible
        r = self.recall_likely if part == "likely" else self.recall_possible
        shown = "n/a" if p is None else f"{p:.2f}"
        what = "recall" if part == "likely" else "recall with likely"
        # short: this text follows a View's title in Label Studio
        if weak_probe_warning(self.probe_accuracy):
            shown += f" (unreliable: the model is right on about {self.probe_accuracy:.0%})"
        elif self.warning:
            shown += " (likely over-stated: the errors repeat fixed class pairs)"
        return f"est. precision {shown}, {what} {r:.2f}"


def estimate_warning(estimate: dict) -> str | None:
    """Why a stored estimate's precision should not be trusted, or None.

    ``estimate``: :meth:`QueueEstimate.as_dict`; keys missing from an estimate stored by an
    older version count as no reason. A weak probe comes first: it is the larger error.
    """
    weak = weak_probe_warning(estimate.get("probe_accuracy"))
    if weak:
        return weak
    concentration = estimate.get("noise_concentration")
    if concentration is None or concentration <= MAX_NOISE_CONCENTRATION:
        return None
    return (
        "likely over-stated: each class's estimated errors mostly go to one other class "
        f"(concentration {concentration:.2f}, where 0 spreads them evenly and 1 sends them all "
        "to one), a pattern the model partly learns, so the real errors are harder to find than "
        "the planted ones (measured: 0.90 promised for 0.75-0.88 true)"
    )


def noise_concentration(labels: np.ndarray, probs: np.ndarray) -> float | None:
    """How much each class's estimated errors go to its most common wrong class: 0 when they
    spread evenly over the other K - 1 classes, 1 when each class has one fixed wrong class;
    the share in the top class is rescaled from [1 / (K - 1), 1] and averaged over classes by
    their estimated number of errors. None with fewer than 3 classes (an error has only one
    place to go, as a plant has), or when Cleanlab's noise matrix cannot be estimated or
    shows no errors."""
    try:
        prior, noise, _, _ = cleanlab.count.estimate_py_and_noise_matrices_from_probabilities(
            labels, probs
        )
    except ValueError:
        return None
    k = len(noise)
    if k < 3:
        return None
    off = np.asarray(noise, dtype=float) - np.diag(np.diag(noise))
    errors = off.sum(axis=0)  # per true class: P(given != true | true)
    weight = np.asarray(prior, dtype=float) * errors
    if weight.sum() <= 0:
        return None
    top = off.max(axis=0) / np.maximum(errors, 1e-12)
    even = 1.0 / (k - 1)
    scaled = np.clip((top - even) / (1.0 - even), 0.0, 1.0)
    return float((scaled * weight).sum() / weight.sum())


def weak_probe_warning(accuracy: float | None) -> str | None:
    """Why the precision estimate should not be trusted, or None when the probe is strong
    enough (an estimate stored before the accuracy was kept gives None too)."""
    if accuracy is None or accuracy >= MIN_PROBE_ACCURACY:
        return None
    return (
        f"unreliable: the model is right on only about {accuracy:.0%} of the right labels, so "
        "its own mistakes pass for wrong labels and the precision is over-estimated"
    )


def probe_accuracy(labels: np.ndarray, probs: np.ndarray, n_errors: float | None) -> float:
    """The probe's agreement with the given labels over the share of them estimated right:
    its accuracy on right labels if it rarely predicts a wrong label's own class."""
    agreement = float(np.mean(np.asarray(probs).argmax(axis=1) == labels))
    right = 1.0 - (n_errors or 0.0) / max(len(labels), 1)
    return min(1.0, agreement / max(right, 1e-9))


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
    plants: str = PLANTS_DEFAULT,
    probe: str = PROBE_DEFAULT,
) -> QueueRun:
    """Probabilities, flags, and the likely/possible cut calibrated by ``seeds`` planted runs.

    ``embeddings`` ``(N, D)``, ``labels`` int ``(N,)``. Costs ``1 + seeds`` K-fold fits and,
    with ``probe="logistic+knn"``, one neighbour graph that every fit shares; ``seeds=0``
    skips the plants (no estimate; the cut falls back to the model's posterior).
    ``plants``: how the flips pick their new label (:func:`plant_flips`).
    """
    y, k = check_labels(labels, "labels", len(embeddings), n_classes=n_classes)
    seeds = check_int(seeds, "seeds", 0, 100)
    plant_fraction = check_float(plant_fraction, "plant_fraction", 0.0, 0.5)
    plants = check_choice(plants, "plants", PLANTS)
    probe = check_choice(probe, "probe", PROBES)
    graph = label_graph(embeddings, k) if probe == "logistic+knn" else None
    fit = {"n_classes": k, "n_folds": n_folds, "C": C, "probe": probe, "graph": graph}
    probs = out_of_sample_probs(embeddings, y, seed=seed, **fit)
    issues = find_label_issues(y, probs)
    if seeds == 0:
        point = operating_point(y, probs, issues.ranked, target_precision=target_precision)
        return QueueRun(probs, issues, point)
    n = min(len(y) // 2, max(MIN_PLANTS, int(round(plant_fraction * len(y)))))
    noise = _noise_matrix(y, probs)
    right = 1.0 - wrong_probability(y, probs)
    curves = []
    for s in range(seeds):
        planted_labels, planted = plant_flips(
            y,
            n,
            seed=1000 * (seed + 1) + s,
            kind=plants,
            noise_matrix=noise,
            probs=probs,
            pool=right,
        )
        planted_probs = out_of_sample_probs(embeddings, planted_labels, seed=seed + s, **fit)
        ranked = find_label_issues(planted_labels, planted_probs).ranked
        curves.append(recall_curve(ranked, planted, len(issues.ranked)))
    recall = np.mean(curves, axis=0)
    return _calibrated(y, probs, issues, recall, target_precision, plants=n, seeds=seeds)


def rescore_queues(
    labels: np.ndarray,
    probs: np.ndarray,
    recall: np.ndarray | None,
    *,
    target_precision: float = PRECISION_DEFAULT,
    plants: int = 0,
    seeds: int = 0,
) -> QueueRun:
    """The queues for new ``labels`` from an earlier :func:`run_queues`' out-of-sample
    ``probs`` ``(N, K)`` and planted ``recall`` curve (``QueueRun.point.recall``), without a fit.

    An example's out-of-sample probabilities never saw its own label, so after a few label
    edits they stay valid for the edited examples; only the other examples' models saw the
    old labels, which moves their probabilities about as little as the share edited. Cleanlab
    re-flags and re-ranks on the new labels; the recall curve is kept, cut or padded with its
    last value to the new number of flags. The cost is one Cleanlab pass instead of
    ``1 + seeds`` K-fold fits, and a few edits leave the rest of the queues where they were.
    """
    y, _ = check_labels(labels, "labels", len(probs), n_classes=probs.shape[1])
    issues = find_label_issues(y, probs)
    if recall is None or seeds == 0:
        point = operating_point(y, probs, issues.ranked, target_precision=target_precision)
        return QueueRun(probs, issues, point)
    recall = fit_curve(np.asarray(recall, dtype=float), len(issues.ranked))
    return _calibrated(y, probs, issues, recall, target_precision, plants=plants, seeds=seeds)


def fit_curve(recall: np.ndarray, n_cuts: int) -> np.ndarray:
    """A recall curve ``(M + 1,)`` fitted to ``n_cuts + 1`` cuts: cut, or padded with its
    last value (plants found below the old flags are not known)."""
    if len(recall) >= n_cuts + 1:
        return recall[: n_cuts + 1].copy()
    return np.concatenate([recall, np.full(n_cuts + 1 - len(recall), recall[-1])])


def _calibrated(
    y: np.ndarray,
    probs: np.ndarray,
    issues: LabelIssues,
    recall: np.ndarray,
    target_precision: float,
    *,
    plants: int,
    seeds: int,
) -> QueueRun:
    """The cut placed by the plants' ``recall`` and the estimate it gives."""
    point = operating_point(
        y, probs, issues.ranked, recall=recall, target_precision=target_precision
    )
    estimate = QueueEstimate(
        precision_likely=point.estimated_precision("likely"),
        recall_likely=float(point.estimated_recall("likely")),
        precision_possible=point.estimated_precision("possible"),
        recall_possible=float(point.estimated_recall("possible")),
        plants=plants,
        seeds=seeds,
        errors=point.n_errors,
        probe_accuracy=probe_accuracy(y, probs, point.n_errors),
        noise_concentration=noise_concentration(y, probs),
    )
    return QueueRun(probs, issues, point, estimate)


def plant_flips(
    labels: np.ndarray,
    n: int,
    *,
    seed: int,
    kind: str = PLANTS_DEFAULT,
    noise_matrix: np.ndarray | None = None,
    probs: np.ndarray | None = None,
    pool: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``labels`` with ``n`` of them changed; returns (copy, planted indices).

    The new label of a planted example labelled j is drawn, by ``kind`` (:data:`PLANTS`):
    "noise" from column j of ``noise_matrix`` ``(K, K)`` (``P(given = i | true = j)``) off its
    diagonal; "confusion" from the example's own row of ``probs`` ``(N, K)`` off class j;
    "uniform" from the other classes alike; "mixed" half "noise", half "uniform". Where the
    structure is missing or names no other class, the draw is uniform.

    ``pool`` float ``(N,)``, optional: each example's odds of being planted. :func:`run_queues`
    passes the posterior that its label is right, because a plant on a label that is already
    wrong adds no error: it moves one to a class the image looks even less like, which is
    easier to find than any real error. On 5,000 Fashion-MNIST images with 20% noise the pool
    cut the plants on wrong labels from 0.20 to 0.11; the share of estimates within 0.1 of
    the truth stayed within the noise of 8 draws (21 and 24 of 48 with it, 21 without).
    """
    kind = check_choice(kind, "kind", PLANTS)
    y = np.asarray(labels, dtype=np.int64)
    k = int(y.max()) + 1
    k = len(noise_matrix) if noise_matrix is not None else k
    k = probs.shape[1] if probs is not None else k
    n = check_int(n, "n", 0, len(y))
    rng = np.random.default_rng(seed)
    planted = np.sort(rng.choice(len(y), n, replace=False, p=_pool_odds(pool, len(y), n)))
    rows = None if probs is None else np.asarray(probs)[planted]
    weights = _weights(kind, y[planted], k, noise_matrix, rows)
    out = y.copy()
    cumulative = np.cumsum(weights, axis=1)
    drawn = (cumulative < rng.random(n)[:, None] * cumulative[:, -1:]).sum(axis=1)
    out[planted] = np.minimum(drawn, k - 1)
    return out, planted


def _pool_odds(pool: np.ndarray | None, size: int, n: int) -> np.ndarray | None:
    """``pool`` as sampling probabilities; None (every example alike) when it is missing or
    has fewer than ``n`` examples with odds above zero."""
    if pool is None:
        return None
    odds = np.nan_to_num(np.asarray(pool, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    if odds.shape != (size,):
        raise ValueError(f"pool: shape {odds.shape}, expected ({size},)")
    odds = np.clip(odds, 0.0, None)
    if np.count_nonzero(odds) < n:
        return None
    return odds / odds.sum()


def _weights(
    kind: str, given: np.ndarray, k: int, noise: np.ndarray | None, probs: np.ndarray | None
) -> np.ndarray:
    """The new label's distribution per planted example, ``(n, K)``, 0 at the given label."""
    if kind == "mixed":
        return 0.5 * _weights("noise", given, k, noise, probs) + 0.5 * _weights(
            "uniform", given, k, noise, probs
        )
    if kind == "noise" and noise is not None:
        w = np.asarray(noise, dtype=float)[:, given].T.copy()
    elif kind == "confusion" and probs is not None:
        w = np.asarray(probs, dtype=float).copy()
    else:
        w = np.ones((len(given), k))
    rows = np.arange(len(given))
    w[rows, given] = 0.0
    empty = w.sum(axis=1) <= 0
    w[empty] = 1.0
    w[rows[empty], given[empty]] = 0.0
    return w / w.sum(axis=1, keepdims=True)


def _noise_matrix(labels: np.ndarray, probs: np.ndarray) -> np.ndarray | None:
    try:
        return cleanlab.count.estimate_py_and_noise_matrices_from_probabilities(labels, probs)[1]
    except ValueError:  # degenerate classes: fall back to uniform plants
        return None
