"""The geometric evidence behind a near-duplicate finding, as text a reviewer can check.

Each item gets its strongest verified match (most RANSAC inliers) with the homography that
maps this file's full-size pixels onto its partner's, so a crop reads as a scale near 1 and a
translation, and an upscaled copy as a scale below 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analysis.duplicates_verify import VerifiedPairs
from analysis.geometric import GeometricMatch, full_size_homography


def match_evidence(
    verified: VerifiedPairs, names: Sequence[str], sizes: np.ndarray
) -> dict[int, str]:
    """Item -> evidence text. ``names`` (N,) how files are called in the report; ``sizes``
    (N, 2) full-size width and height, to rescale the working-copy homography."""
    best: dict[int, tuple[int, int]] = {}  # item -> (partner, pair row)
    for p, match in enumerate(verified.matches):
        if match is None:
            continue
        for a, b in (verified.pairs[p], verified.pairs[p][::-1]):
            if a not in best or match.inliers > verified.matches[best[a][1]].inliers:
                best[int(a)] = (int(b), p)
    out = {}
    for a, (b, p) in best.items():
        match = verified.matches[p]
        assert match is not None  # only matched pairs are in ``best``
        h = _full(verified, p, match, sizes)
        if a != verified.pairs[p][0]:
            h = np.linalg.inv(h)
            h = h / h[2, 2]
        out[a] = _describe(match, h, names[b])
    return out


def _full(verified: VerifiedPairs, p: int, match: GeometricMatch, sizes: np.ndarray) -> np.ndarray:
    i, j = (int(x) for x in verified.pairs[p])
    scale = [verified.shapes[k][1] / float(sizes[k][0]) for k in (i, j)]
    assert match.homography is not None  # kept matches always carry one
    return full_size_homography(
        match.homography, scale[0], scale[1], mirrored=match.mirrored, width_b=int(sizes[j][0])
    )


def _describe(match: GeometricMatch, h: np.ndarray, partner: str) -> str:
    scale = float(np.sqrt(abs(np.linalg.det(h[:2, :2]))))
    rows = "; ".join(" ".join(f"{v:.4g}" for v in row) for row in h)
    flip = ", mirrored" if match.mirrored else ""
    return (
        f"shares a homography with {partner}: {match.inliers} RANSAC inliers of "
        f"{match.matches} ORB matches ({match.ratio:.0%}){flip}, scale {scale:.2f}, "
        f"H=[{rows}]"
    )
