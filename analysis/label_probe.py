"""What a label-issue fit leaves behind, so that a few label edits need no new fit.

The fit's out-of-sample probabilities and its planted-flip recall curve are enough to
re-flag, re-rank and re-cut the queues for new labels
(:func:`analysis.label_issue_estimate.rescore_queues`). They are kept per file (by its key,
a URI or task reference), so the caller can check that the files and the classes are still
the ones they were fitted on; when to refit instead is the caller's policy (the sync refits
once a set share of the labels changed since the fit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelProbe:
    """``probs`` float ``(N, K)``: out-of-sample probabilities of the file ``keys[i]`` over
    the classes ``names`` (in column order); ``recall`` ``(M + 1,)`` or None: the planted
    flips' recall at each cut of the fit's ranking; ``plants`` per seed and ``seeds``;
    ``labels``: each file's label at the fit, to count what changed since."""

    keys: tuple[str, ...]
    names: tuple[str, ...]
    probs: np.ndarray
    recall: np.ndarray | None
    plants: int
    seeds: int
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.probs.shape != (len(self.keys), len(self.names)):
            raise ValueError(
                f"probs: shape {self.probs.shape}, expected ({len(self.keys)}, {len(self.names)})"
            )
        if len(self.labels) != len(self.keys):
            raise ValueError(f"labels: {len(self.labels)} for {len(self.keys)} keys")

    def covers(self, keys: Sequence[str], names: Sequence[str]) -> bool:
        """True when these files and classes are exactly the ones fitted (in any order)."""
        return tuple(names) == self.names and sorted(keys) == sorted(self.keys)

    def probs_for(self, keys: Sequence[str]) -> np.ndarray:
        """The probabilities in the order of ``keys`` (each one fitted: see :meth:`covers`)."""
        row = {key: i for i, key in enumerate(self.keys)}
        return self.probs[[row[key] for key in keys]]

    def changed(self, labels: dict[str, str]) -> int:
        """How many files' labels differ from the fit's (files not fitted count as changed)."""
        fitted = dict(zip(self.keys, self.labels, strict=True))
        return sum(fitted.get(key) != label for key, label in labels.items())
