"""Precision and recall of predicted duplicate pairs against the variants' ground truth.

A method's answer is a set of file-name pairs: pairs it reports, or every pair inside each
group it reports. Recall per transform: of the 43 (original, variant) pairs, how many are
predicted. Precision per transform: of the predicted pairs that involve a file of that
transform, how many join two files of the same source photo (pairs between related sources
are skipped; see ``_variants.RELATED``). "all" covers every predicted pair and every
(original, variant) pair; "mild" and "hard" the transforms listed in ``_variants``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from _variants import HARD, MILD, ORIGINAL, truth

Pair = tuple[str, str]


def pair_set(pairs: Iterable[Iterable[str]]) -> set[Pair]:
    return {tuple(sorted(p)) for p in pairs if len(set(p)) == 2}  # type: ignore[misc]


def group_pairs(groups: Iterable[Iterable[str]]) -> set[Pair]:
    """Every pair inside each group (a group claims all its members are duplicates)."""
    return {tuple(sorted(p)) for g in groups for p in itertools.combinations(set(g), 2)}


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    ignored: int = 0
    found: int = 0
    total: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else math.nan

    @property
    def recall(self) -> float:
        return self.found / self.total if self.total else math.nan


def _keys(variant: str) -> list[str]:
    if variant == ORIGINAL:
        return []
    return [variant, "mild" if variant in MILD else "hard"]


def score(predicted: set[Pair], meta: dict[str, tuple[str, str]]) -> dict[str, Score]:
    """Scores keyed by transform name, "mild", "hard" and "all"."""
    keys = [*MILD, *HARD, "mild", "hard", "all"]
    out = {k: Score() for k in keys}
    for a, b in predicted:
        same = truth(a, b, meta)
        for k in {"all", *_keys(meta[a][1]), *_keys(meta[b][1])}:
            if same is None:
                out[k].ignored += 1
            elif same:
                out[k].tp += 1
            else:
                out[k].fp += 1
    originals = {src: name for name, (src, var) in meta.items() if var == ORIGINAL}
    for name, (src, var) in meta.items():
        if var == ORIGINAL:
            continue
        hit = tuple(sorted((originals[src], name))) in predicted
        for k in ["all", *_keys(var)]:
            out[k].total += 1
            out[k].found += hit
    return out


def false_positives(predicted: set[Pair], meta: dict[str, tuple[str, str]]) -> list[Pair]:
    return sorted(p for p in predicted if truth(*p, meta) is False)


def cell(s: Score) -> str:
    """``P/R`` with two decimals, ``-`` for an undefined precision."""
    p = "   -" if math.isnan(s.precision) else f"{s.precision:.2f}"
    return f"{p}/{s.recall:.2f}"
