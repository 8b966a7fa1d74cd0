"""A second label-issue probe: each example's nearest neighbours vote on its label.

The logistic probe draws one linear boundary per class, so it errs where a class sits in
several clusters of the embedding or two classes interleave. A neighbour vote errs in other
places, and the mean of the two ranks wrong labels better than either alone: on real images
with 10% injected noise the precision at recall 0.8 rose in every setting measured, by
0.04-0.25 (``benchmarks/label_noise.py``; RESULTS.md, "Label issues on injected noise").
It is chosen with ``audit.label_issue_probe: logistic+knn``
(:data:`analysis.label_issues.PROBE_DEFAULT` says why it is not the default).

The neighbour graph depends on the embeddings only, never on the labels, so one graph serves
every label set scored against it: the given labels and each planted-flip run of the
estimate. Each example is left out of its own vote, which makes the vote out-of-sample
without folds. The graph is exact (``analysis.embedding_pairs.embedding_knn``) on the leading
components of the PCA projection the logistic probe also uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import normalize

from analysis.embedding_pairs import embedding_knn
from analysis.validation import check_embeddings, check_int, check_labels

K_MIN, K_MAX = 5, 30
GRAPH_DIM = 128  # leading PCA components the graph is built on
# The vote never says 0: Cleanlab reads a probability of 0 for the given label as certainty
# that it is wrong, and a neighbourhood with no member of a class is not that.
SMOOTHING = 0.02
# Cosine distance floor for the 1/distance weights: an exact copy (distance 0) outweighs
# ordinary neighbours by about 1000x instead of infinitely.
MIN_DISTANCE = 1e-3


@dataclass(frozen=True)
class NeighborGraph:
    """``indices`` int64 ``(N, k)``: each example's nearest other examples, best first (-1:
    none); ``sims`` float32 ``(N, k)``: their cosines."""

    indices: np.ndarray
    sims: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)


def default_k(n: int, n_classes: int) -> int:
    """About the square root of the mean class size, within [5, 30].

    On Fashion-MNIST (10 classes) a larger k kept gaining up to 30 at 5,000-10,000 images;
    on the Tux Paint stamps (12 classes of about 60) 10 beat 15 and 30.
    """
    mean_class = max(n, 1) / max(n_classes, 1)
    return int(np.clip(round(np.sqrt(mean_class)), K_MIN, K_MAX))


def neighbor_graph(
    embeddings: np.ndarray, *, k: int, pca_dim: int | None = GRAPH_DIM, seed: int = 0
) -> NeighborGraph:
    """The ``k`` nearest other examples of each of ``embeddings`` ``(N, D)`` by cosine.

    The embeddings are projected to ``pca_dim`` first (None or ``pca_dim >= min(N, D)``: kept
    as they are). The exact graph's cost is the partial sort of N² cosines, about 75 s at
    100k on 2 cores whatever the dimension; the projection keeps the products cheap.
    """
    x = check_embeddings(embeddings, "embeddings")
    k = check_int(k, "k", 1)
    if pca_dim is not None:
        pca_dim = check_int(pca_dim, "pca_dim", 1)
        if pca_dim < min(x.shape):
            x = PCA(pca_dim, svd_solver="randomized", random_state=seed).fit_transform(x)
    unit = normalize(np.asarray(x, dtype=np.float32))
    indices, sims = embedding_knn(unit, k=min(k, max(len(x) - 1, 1)))
    return NeighborGraph(indices, sims)


def vote_probs(
    graph: NeighborGraph, labels: np.ndarray, *, n_classes: int | None = None
) -> np.ndarray:
    """Class probabilities ``(N, K)`` from the neighbours' labels, weighted by 1 / distance.

    Rows sum to 1; every class keeps at least ``SMOOTHING / K``. An example with no
    neighbour gets the uniform row.
    """
    y, k = check_labels(labels, "labels", len(graph), n_classes=n_classes)
    idx = graph.indices
    present = idx >= 0
    weights = np.where(present, 1.0 / np.maximum(1.0 - graph.sims, MIN_DISTANCE), 0.0)
    cells = np.arange(len(y))[:, None] * k + y[np.maximum(idx, 0)]
    votes = np.bincount(cells.reshape(-1), weights.reshape(-1), minlength=len(y) * k)
    votes = votes.reshape(len(y), k)
    total = votes.sum(axis=1, keepdims=True)
    votes = np.divide(votes, total, out=np.full_like(votes, 1.0 / k), where=total > 0)
    return (1.0 - SMOOTHING) * votes + SMOOTHING / k
