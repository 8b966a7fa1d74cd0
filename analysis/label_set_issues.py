"""Label issues when each image's label is a set of classes (multi-label projects).

The audit's multi-class queues treat a label as one class; a label set such as
``{"Bag", "Coat"}`` is not a class but one yes/no answer per class, so it goes through the
one-vs-rest path of :mod:`analysis.label_issues` instead: out-of-sample probabilities per
class, then Cleanlab's multi-label filter and ranking (lowest label quality first).

No "likely" cut is claimed for sets. The single-label cut is calibrated with planted label
flips (:mod:`analysis.label_issue_estimate`); the same recipe for sets (one class added to or
dropped from a planted set) was tried on 51 and 200 Fashion-MNIST mosaics with 4 real wrong
sets and estimated 21 and 74 wrong sets, because Cleanlab's multi-label filter flagged 70-78%
of the sets of that weak model and the plants' recall never bound the count. The posterior
that a set is wrong (one minus the product over classes of the probability that each given
yes/no is right) multiplies every class's doubt and called most sets wrong too. So every flag
is a "possible" issue, ranked, and ``wrong`` is evidence only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.label_issues import find_multilabel_issues, out_of_sample_multilabel_probs
from analysis.validation import check_embeddings


@dataclass(frozen=True)
class LabelSetIssues:
    """``classes``: the K class names, sorted; ``matrix`` int ``(N, K)``: the given sets;
    ``probs`` float ``(N, K)``: out-of-sample per-class probabilities; ``ranked`` int
    ``(M,)``: Cleanlab's flagged rows, most likely wrong first; ``quality`` ``(N,)``:
    Cleanlab's label quality (low = suspicious); ``wrong`` ``(N,)``: the posterior that the set
    is wrong (evidence); ``suggested`` bool ``(N, K)``: the classes the model finds probable.
    """

    classes: list[str]
    matrix: np.ndarray
    probs: np.ndarray
    ranked: np.ndarray
    quality: np.ndarray
    wrong: np.ndarray
    suggested: np.ndarray


def label_set_issues(
    embeddings: np.ndarray, label_sets: Sequence[Sequence[str]], *, n_folds: int = 5
) -> LabelSetIssues:
    """Flag and rank the label sets of ``embeddings`` ``(N, D)`` (one set per row; an empty
    set means "none of the classes"). Needs at least 2 classes over all sets."""
    x = check_embeddings(embeddings, "embeddings")
    if len(label_sets) != len(x):
        raise ValueError(f"label_sets has {len(label_sets)} rows, embeddings {len(x)}")
    classes = sorted({str(c) for s in label_sets for c in s})
    index = {c: k for k, c in enumerate(classes)}
    matrix = np.zeros((len(x), len(classes)), dtype=np.int64)
    for i, s in enumerate(label_sets):
        matrix[i, [index[str(c)] for c in s]] = 1
    probs = out_of_sample_multilabel_probs(x, matrix, n_folds=n_folds)
    found = find_multilabel_issues(matrix, probs)
    wrong = 1.0 - np.where(matrix == 1, probs, 1.0 - probs).prod(axis=1)
    return LabelSetIssues(
        classes,
        matrix,
        probs,
        found.ranked,
        np.asarray(found.quality, dtype=float),
        np.clip(wrong, 0.0, 1.0),
        np.asarray(found.suggested, dtype=bool),
    )


def disagreements(issues: LabelSetIssues, row: int, *, limit: int = 3) -> str:
    """Evidence for one row: the classes whose given yes/no the model disputes most."""
    p, given = issues.probs[row], issues.matrix[row]
    doubt = np.where(given == 1, 1.0 - p, p)
    parts = []
    for k in np.argsort(-doubt, kind="stable")[:limit]:
        if doubt[k] < 0.5:
            break
        what = "given" if given[k] else "missing"
        parts.append(f"{what} {issues.classes[k]} (p={p[k]:.2f})")
    return ", ".join(parts) or "no single class disputed"
