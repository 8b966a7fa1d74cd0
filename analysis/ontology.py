"""Ontology: class names that probably mean the same class, with a proposed merge and the reason.

Label sets grow by hand, so one class ends up spelled several ways: ``Cat``/``cat``,
``cats``/``cat``, ``sea_lion``/``sea-lion``/``Sea Lion``, ``televison``/``television``. Pairs are
found by, in order of certainty:

1. ``case`` - equal ignoring case;
2. ``separator`` - equal once ``_``, ``-``, ``.``, spaces and camelCase all become one space;
3. ``plural`` - equal once each word is reduced to a singular by English suffix rules;
4. ``spelling`` - ``difflib`` similarity ratio at least ``min_ratio`` (default 0.85), only for
   names of five letters or more (one letter turns ``cat`` into ``coat`` or ``cot``) and
   never for names that differ in their digits (``v1``/``v2`` are meant to differ);
5. ``meaning`` - cosine of precomputed name embeddings (e.g. CLIP text) at least
   ``min_cosine``.

Pairs are grouped transitively; each group keeps its most frequent name (ties: the first
given). A merged name's reason is its own link to the kept name, or, when it only reached the
group through another name, ``"via <name>: <reason>"``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np

from analysis.validation import check_float, check_scores, check_unit_rows

MIN_RATIO = 0.85
MIN_COSINE = 0.9
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[\s_\-.]+")
_DIGITS = re.compile(r"\d+")
_UNCHANGED_S = ("ss", "us", "is")  # glass, bus, axis: not plurals
_MIN_SPELLING_LEN = 5


@dataclass(frozen=True)
class NamePair:
    """Two names (indices into the input) that look like one class; ``score`` in [0, 1]."""

    a: int
    b: int
    reason: str  # case | separator | plural | spelling | meaning
    score: float


@dataclass(frozen=True)
class MergeProposal:
    """Rename every name in ``merge`` to ``keep``; ``reasons`` holds one pair's reason each."""

    keep: str
    merge: tuple[str, ...]
    reasons: tuple[str, ...]


def normalise(name: str) -> str:
    """Lower-case words joined by single spaces: ``"SeaLion_pup"`` -> ``"sea lion pup"``."""
    return _SEPARATORS.sub(" ", _CAMEL.sub(" ", name)).strip().lower()


def singular(word: str) -> str:
    """English singular by suffix rules: ``boxes``->``box``, ``berries``->``berry``."""
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if len(word) > 2 and word.endswith("s") and not word.endswith(_UNCHANGED_S):
        return word[:-1]
    return word


def name_pairs(
    names: list[str],
    *,
    name_embeddings: np.ndarray | None = None,
    min_ratio: float = MIN_RATIO,
    min_cosine: float = MIN_COSINE,
) -> list[NamePair]:
    """Every pair of distinct ``names`` that one rule links, with the most certain rule.

    ``name_embeddings`` (optional) are L2-normalised float ``(len(names), D)``. All pairs are
    compared: label sets have hundreds of names, not millions.
    """
    names = _check_names(names)
    min_ratio = check_float(min_ratio, "min_ratio", 0.0, 1.0)
    min_cosine = check_float(min_cosine, "min_cosine", -1.0, 1.0)
    cosine = None
    if name_embeddings is not None:
        vectors = check_unit_rows(name_embeddings, "name_embeddings")
        if len(vectors) != len(names):
            raise ValueError(f"name_embeddings has {len(vectors)} rows for {len(names)} names")
        cosine = vectors @ vectors.T
    forms = [_forms(name) for name in names]
    pairs = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            found = _link(forms[i], forms[j], min_ratio)
            if found is None and cosine is not None and cosine[i, j] >= min_cosine:
                found = ("meaning", float(np.clip(cosine[i, j], 0.0, 1.0)))
            if found is not None:
                pairs.append(NamePair(i, j, *found))
    return pairs


def _forms(name: str) -> tuple[str, str, str, str]:
    norm = normalise(name)
    return name, name.strip().lower(), norm, " ".join(singular(w) for w in norm.split())


def _link(a: tuple[str, ...], b: tuple[str, ...], min_ratio: float) -> tuple[str, float] | None:
    for reason, k in (("case", 1), ("separator", 2), ("plural", 3)):
        if a[k] == b[k]:
            return reason, 1.0
    if min(len(a[3]), len(b[3])) < _MIN_SPELLING_LEN:
        return None
    if _DIGITS.findall(a[2]) != _DIGITS.findall(b[2]):
        return None
    ratio = difflib.SequenceMatcher(None, a[3], b[3], autojunk=False).ratio()
    return ("spelling", ratio) if ratio >= min_ratio else None


def propose_merges(
    names: list[str],
    *,
    counts: np.ndarray | None = None,
    name_embeddings: np.ndarray | None = None,
    min_ratio: float = MIN_RATIO,
    min_cosine: float = MIN_COSINE,
) -> list[MergeProposal]:
    """Groups of linked names with the name to keep: the most frequent by ``counts`` ``(len,)``.

    Proposals come largest group first. Each merged name's reason is the reason of the pair
    that linked it into the group (``"spelling 0.91"`` carries the ratio).
    """
    names = _check_names(names)
    weight = np.zeros(len(names)) if counts is None else check_scores(counts, "counts", len(names))
    pairs = name_pairs(
        names, name_embeddings=name_embeddings, min_ratio=min_ratio, min_cosine=min_cosine
    )
    parent = list(range(len(names)))
    links: dict[tuple[int, int], NamePair] = {}
    for pair in pairs:
        links[(pair.a, pair.b)] = links[(pair.b, pair.a)] = pair
        ra, rb = _root(parent, pair.a), _root(parent, pair.b)
        parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for i in range(len(names)):
        groups.setdefault(_root(parent, i), []).append(i)
    proposals = []
    for members in (m for m in groups.values() if len(m) > 1):
        keep = max(members, key=lambda i: (weight[i], -i))
        merge = [i for i in members if i != keep]
        reasons = tuple(_reason(i, keep, members, links, names) for i in merge)
        proposals.append(MergeProposal(names[keep], tuple(names[i] for i in merge), reasons))
    return sorted(proposals, key=lambda p: -len(p.merge))


def _reason(
    i: int, keep: int, members: list[int], links: dict[tuple[int, int], NamePair], names: list
) -> str:
    """Why ``i`` merges into ``keep``: their own link, else the link to a linked member."""
    if (i, keep) in links:
        return _text(links[(i, keep)])
    via = next(j for j in members if (i, j) in links)
    return f"via {names[via]}: {_text(links[(i, via)])}"


def _text(pair: NamePair) -> str:
    return pair.reason if pair.score == 1.0 else f"{pair.reason} {pair.score:.2f}"


def _root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _check_names(names: object) -> list[str]:
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):  # type: ignore[union-attr]
        raise TypeError("names must be a list of strings")
    names = list(names)  # type: ignore[call-overload]
    if len(set(names)) != len(names):
        raise ValueError("names must be distinct")
    return names
