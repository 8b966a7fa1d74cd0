"""Winnow's near-duplicate pairs at any pHash radius and cosine threshold, built with the
audit's own functions (``hash_neighbors``, ``embedding_neighbors``, ``near_duplicate_groups``),
plus the diagnostics the near-duplicate benchmark prints: a threshold sweep, per-transform
recall at a few settings, and the margins between duplicates and different photos."""

from __future__ import annotations

import numpy as np
import pandas as pd
from _pair_scores import Pair, group_pairs, pair_set, score
from _variants import HARD, MILD, ORIGINAL, RELATED, truth

from analysis.duplicates import embedding_neighbors, hash_neighbors, near_duplicate_groups

SWEEP_RADII = (None, 4, 6, 8, 10)
SWEEP_COSINES = (None, 0.90, 0.93, 0.95, 0.97)


class WinnowPairs:
    """Candidate pairs of one feature table (columns ``name``, ``phash``) and its embeddings."""

    def __init__(self, files: pd.DataFrame, vectors: np.ndarray) -> None:
        self.names = files["name"].to_numpy()
        self.hashes = files["phash"].to_numpy(np.int64)
        self.vectors = vectors
        lowest = min(c for c in SWEEP_COSINES if c is not None)
        self.emb_pairs, self.emb_sims = embedding_neighbors(vectors, threshold=lowest)

    def edges(self, radius: int | None, cosine: float | None) -> list[np.ndarray]:
        out = []
        if radius is not None:
            out.append(hash_neighbors(self.hashes, radius=radius))
        if cosine is not None:
            out.append(self.emb_pairs[self.emb_sims >= cosine])
        return out

    def as_pairs(self, radius: int | None, cosine: float | None) -> set[Pair]:
        edges = self.edges(radius, cosine)
        return pair_set((self.names[i], self.names[j]) for e in edges for i, j in e)

    def as_clusters(self, radius: int | None, cosine: float | None) -> set[Pair]:
        groups = near_duplicate_groups(len(self.names), self.edges(radius, cosine))
        clusters = pd.Series(self.names).groupby(groups.cluster)
        return group_pairs(g for _, g in clusters if len(g) > 1)


def sweep(wp: WinnowPairs, meta: dict) -> list[str]:
    lines = [
        "Winnow threshold sweep (same features): P all / R mild / R hard / R all "
        "(wrong pairs), edges | clusters"
    ]
    for radius in SWEEP_RADII:
        for cosine in SWEEP_COSINES:
            if radius is None and cosine is None:
                continue
            row = []
            for pairs in (wp.as_pairs(radius, cosine), wp.as_clusters(radius, cosine)):
                s = score(pairs, meta)
                row.append(
                    f"{s['all'].precision:.3f} / {s['mild'].recall:.3f} / "
                    f"{s['hard'].recall:.3f} / {s['all'].recall:.3f} "
                    f"({s['all'].fp})"
                )
            label = f"pHash r{radius if radius is not None else '-'} cos {cosine or '-'}"
            lines.append(f"  {label:<20} {row[0]} | {row[1]}")
    return lines


def recall_by_transform(
    wp: WinnowPairs, meta: dict, settings: list[tuple[int | None, float | None]]
) -> list[str]:
    """Cluster recall per transform at a few (radius, cosine) settings."""
    scores = [score(wp.as_clusters(r, c), meta) for r, c in settings]
    heads = [f"r{r}+cos{c}" for r, c in settings]
    lines = [
        "Winnow cluster recall per transform at other thresholds (precision in sweep)",
        f"{'transform':<11}" + "".join(f"{h:>13}" for h in heads),
    ]
    for key in [*MILD, *HARD]:
        lines.append(f"{key:<11}" + "".join(f"{s[key].recall:>13.2f}" for s in scores))
    return lines


def margins(wp: WinnowPairs, meta: dict) -> list[str]:
    """How far apart duplicates and different photos lie, in pHash bits and cosine."""
    n = len(wp.names)
    h = wp.hashes.view(np.uint64)
    bits = np.bitwise_count(h[:, None] ^ h[None, :])
    cos = wp.vectors @ wp.vectors.T
    i, j = np.triu_indices(n, 1)
    kind = np.array([_kind(wp.names[a], wp.names[b], meta) for a, b in zip(i, j, strict=True)])
    lines = ["margins (pHash bits: min / median; cosine: median / max or min)"]
    for label in ["unrelated", "related"]:
        m = kind == label
        k = int(np.argmax(np.where(m, cos[i, j], -2)))
        lines.append(
            f"  {label:<10} pairs {m.sum():>6}: pHash min {bits[i, j][m].min()}, "
            f"cosine max {cos[i, j][m].max():.3f} "
            f"({wp.names[i[k]]} ~ {wp.names[j[k]]})"
        )
    for t in [*MILD, *HARD]:
        m = kind == t
        lines.append(
            f"  {t:<10} original~variant: pHash median {np.median(bits[i, j][m]):.0f} "
            f"max {bits[i, j][m].max()}; cosine median {np.median(cos[i, j][m]):.3f} "
            f"min {cos[i, j][m].min():.3f}"
        )
    return lines


def _kind(a: str, b: str, meta: dict) -> str:
    same = truth(a, b, meta)
    if same is None:
        return "related"
    if not same:
        return "unrelated"
    va, vb = meta[a][1], meta[b][1]
    if ORIGINAL in (va, vb):
        return vb if va == ORIGINAL else va
    return "variants"


def related_links(pairs: set[Pair], meta: dict) -> int:
    """How many of the related families a method joins (any pair across two members)."""
    linked = set()
    for a, b in pairs:
        sa, sb = meta[a][0], meta[b][0]
        for k, family in enumerate(RELATED):
            if sa != sb and sa in family and sb in family:
                linked.add(k)
    return len(linked)


def flag_pressure(wp: WinnowPairs, settings: list[tuple[int | None, float | None]]) -> list[str]:
    """Pairs flagged in a set with no planted duplicates (most pairs are different images),
    split into pairs between two glyph stamps (letters, digits, symbols) and the rest."""
    glyph = np.char.startswith(wp.names.astype(str), "symbols_")
    lines = []
    for radius, cosine in settings:
        unique = np.unique(np.concatenate(wp.edges(radius, cosine)), axis=0)
        both = int((glyph[unique[:, 0]] & glyph[unique[:, 1]]).sum())
        clusters = wp.as_clusters(radius, cosine)
        lines.append(
            f"  r{radius}+cos{cosine}: {len(unique)} pairs ({both} glyph~glyph, "
            f"{len(unique) - both} other), {len(clusters)} pairs inside clusters"
        )
    return lines
