"""Geometric verification of a near-duplicate candidate: do two images share a homography?

Why: an embedding or a perceptual hash says two pictures *look* alike, which also holds for a
stereo pair, two frames of one video or the glyphs b and d. A copy (cropped, rotated, resized,
watermarked, recompressed) differs from its source by a plane-to-plane mapping, so many local
features of one land where a single homography sends them in the other. Copy detection has
long used this check to keep precision while a looser candidate threshold raises recall.

How: ORB keypoints (OpenCV) on small grayscale working copies, brute-force Hamming matching
with Lowe's ratio test, then RANSAC (an affine ``cv2.estimateAffine2D``). A mirrored copy has
mirrored descriptors, so when the straight match leaves most matches unexplained the second
image's left-right flip is matched as well. Arrays in, a :class:`GeometricMatch` out; no I/O
(a mirror computed late asks the caller's loader for the working copy again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from analysis.validation import check_float, check_int

N_FEATURES = 500  # ORB keypoints per working copy
FAST_THRESHOLD = 8  # ORB's corner contrast (OpenCV default 20 leaves smooth photos bare)
LOWE_RATIO = 0.8  # best match must beat the second best by this factor
# Reprojection error allowed, in working-copy pixels (about 320 px wide). Tight on purpose: a
# copy is the same pixels resampled, while a stereo pair or another viewpoint fits one plane
# only loosely (parallax), so at 2 px its inliers fall to half of its matches.
RANSAC_PIXELS = 2.0
MAX_SCALE = 8.0  # a homography scaling area by more than this (or less than 1/this) is a fluke
# Names the raw match for caches of it: change it whenever a change here (ORB settings, ratio
# test, RANSAC, the mirror rule) would give another match for the same two working copies.
MATCH_VERSION = "orb1"


@dataclass(frozen=True)
class LocalFeatures:
    """ORB features of one working copy and, once asked for, of its left-right mirror image.

    The mirror is only needed when a straight match fails, so with ``reload`` (the working
    copy again, from its source) it is computed on first use instead of for every item."""

    shape: tuple[int, int]  # (height, width) of the working copy
    points: np.ndarray  # float32 (K, 2) keypoint x, y
    descriptors: np.ndarray  # uint8 (K, 32)
    mirror_points: np.ndarray | None = None  # float32 (K', 2), mirror image coordinates
    mirror_descriptors: np.ndarray | None = None  # uint8 (K', 32)
    n_features: int = N_FEATURES
    reload: Callable[[], np.ndarray | None] | None = field(default=None, repr=False)

    def mirror(self) -> tuple[np.ndarray, np.ndarray]:
        """Points and descriptors of the mirror image (empty when it cannot be reloaded)."""
        points, descriptors = self.mirror_points, self.mirror_descriptors
        if points is not None and descriptors is not None:
            return points, descriptors
        gray = None if self.reload is None else self.reload()
        found = _detect_mirror(gray, self.n_features) if gray is not None else _EMPTY
        # A cache, set once. Two threads may both compute it (same result); each returns its
        # own consistent pair, never one half from each.
        object.__setattr__(self, "mirror_points", found[0])
        object.__setattr__(self, "mirror_descriptors", found[1])
        return found


@dataclass(frozen=True)
class GeometricMatch:
    """The evidence for one pair: RANSAC inliers among the ratio-test matches."""

    inliers: int
    matches: int  # tentative matches that passed the ratio test
    homography: np.ndarray | None  # float64 (3, 3): working copy a -> working copy b
    mirrored: bool  # the homography maps a onto b's mirror image

    @property
    def ratio(self) -> float:
        """Inliers per tentative match, 0 when nothing matched."""
        return self.inliers / self.matches if self.matches else 0.0


NO_MATCH = GeometricMatch(inliers=0, matches=0, homography=None, mirrored=False)


def local_features(
    gray: np.ndarray,
    *,
    n_features: int = N_FEATURES,
    reload: Callable[[], np.ndarray | None] | None = None,
) -> LocalFeatures:
    """ORB features of a uint8 grayscale working copy ``gray`` (H, W). Its mirror's features
    are computed now, or, with ``reload`` (a loader of the same working copy), on first use."""
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    if gray.ndim != 2:
        raise ValueError(f"gray must be (H, W) uint8, got shape {gray.shape}")
    n_features = check_int(n_features, "n_features", 10)
    points, descriptors = _detect(_orb(n_features), gray)
    mirror = (None, None) if reload is not None else _detect_mirror(gray, n_features)
    return LocalFeatures(gray.shape, points, descriptors, *mirror, n_features, reload)


def _orb(n_features: int) -> cv2.ORB:
    return cv2.ORB_create(nfeatures=n_features, fastThreshold=FAST_THRESHOLD)


def _detect_mirror(gray: np.ndarray, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    return _detect(_orb(n_features), np.ascontiguousarray(gray[:, ::-1]))


def _detect(orb: cv2.ORB, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keypoints, descriptors = orb.detectAndCompute(gray, None)
    if descriptors is None:
        return _EMPTY
    return np.array([k.pt for k in keypoints], np.float32), descriptors


_EMPTY = (np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))


def match_features(a: LocalFeatures, b: LocalFeatures, *, min_inliers: int = 4) -> GeometricMatch:
    """The better of ``a`` against ``b`` and ``a`` against ``b``'s mirror (more inliers). The
    mirror is tried only when the straight match leaves most matches unexplained, and skips
    RANSAC when it has fewer ratio-test matches than ``min_inliers`` (it could not pass)."""
    straight = _match(a.points, a.descriptors, b.points, b.descriptors, 4)
    if straight.ratio >= 0.5:
        return straight
    mirrored = _match(a.points, a.descriptors, *b.mirror(), min_inliers)
    if mirrored.inliers <= straight.inliers:
        return straight
    return GeometricMatch(mirrored.inliers, mirrored.matches, mirrored.homography, mirrored=True)


def _match(
    pa: np.ndarray, da: np.ndarray, pb: np.ndarray, db: np.ndarray, min_matches: int
) -> GeometricMatch:
    if len(da) < 2 or len(db) < 2:
        return NO_MATCH
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    good = [
        pair[0]
        for pair in matcher.knnMatch(da, db, k=2)
        if len(pair) == 2 and pair[0].distance < LOWE_RATIO * pair[1].distance
    ]
    if len(good) < max(4, min_matches):
        return GeometricMatch(0, len(good), None, mirrored=False)
    src = pa[[m.queryIdx for m in good]]
    dst = pb[[m.trainIdx for m in good]]
    a, mask = cv2.estimateAffine2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PIXELS, maxIters=2000
    )
    if a is None or not _plausible(a):
        return GeometricMatch(0, len(good), None, mirrored=False)
    return GeometricMatch(int(mask.sum()), len(good), np.vstack([a, [0.0, 0.0, 1.0]]), False)


def _plausible(a: np.ndarray) -> bool:
    """Rejects a flipped or collapsed plane and an absurd change of scale."""
    det = float(np.linalg.det(a[:2, :2]))
    return 1.0 / MAX_SCALE < det < MAX_SCALE


def is_same_picture(match: GeometricMatch, *, min_inliers: int, min_ratio: float) -> bool:
    """The acceptance rule: enough RANSAC inliers, and enough of the matches among them."""
    min_inliers = check_int(min_inliers, "min_inliers", 4)
    min_ratio = check_float(min_ratio, "min_ratio", 0.0, 1.0)
    return match.inliers >= min_inliers and match.ratio >= min_ratio


def full_size_homography(
    h: np.ndarray, scale_a: float, scale_b: float, *, mirrored: bool, width_b: int
) -> np.ndarray:
    """``h`` (working copies) rewritten for the full-size images: ``scale_*`` is working-copy
    pixels per full-size pixel; with ``mirrored`` the result maps a onto b's mirror image of
    width ``width_b`` (full size) and is composed with the flip, so it lands on b itself."""
    to_a = np.diag([scale_a, scale_a, 1.0])
    from_b = np.diag([1.0 / scale_b, 1.0 / scale_b, 1.0])
    full = from_b @ h @ to_a
    if mirrored:
        full = np.array([[-1.0, 0.0, width_b - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ full
    return full / full[2, 2]
