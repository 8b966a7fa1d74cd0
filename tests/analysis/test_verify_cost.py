"""Verification cost cuts keep the answers: the mirror's features come late, only when a
straight match fails, and a hopeless candidate skips RANSAC; tight-cosine pairs need no pixels."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from PIL import Image
from skimage import data

from analysis.duplicates_verify import VerifyOptions, features_from_pixels, verified_neighbors
from analysis.geometric import local_features, match_features
from winnow.features.measure import make_thumbnail

RULE = {"min_inliers": VerifyOptions().min_inliers, "min_ratio": VerifyOptions().min_ratio}


def _gray(image: Image.Image) -> np.ndarray:
    return np.asarray(make_thumbnail(image.convert("L"), 320))


@pytest.fixture(scope="module")
def copies() -> dict[str, np.ndarray]:
    """Real photos, a 20% crop, a mirrored copy and an unrelated photo, as working copies."""
    astronaut = Image.fromarray(data.astronaut())
    w, h = astronaut.size
    return {
        "original": _gray(astronaut),
        "crop": _gray(astronaut.crop((30, 60, 30 + int(w * 0.8), 60 + int(h * 0.8)))),
        "flip": _gray(astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        "other": _gray(Image.fromarray(data.coffee())),
    }


def _loader(copies: dict[str, np.ndarray], reads: Counter):
    def pixels(key: str) -> np.ndarray:
        reads[key] += 1
        return copies[key]

    return pixels


@pytest.mark.parametrize("pair", [("original", "crop"), ("original", "flip"), ("crop", "other")])
def test_late_mirror_gives_the_eager_answer(copies, pair) -> None:
    a, b = (copies[k] for k in pair)
    eager = match_features(local_features(a), local_features(b), min_inliers=RULE["min_inliers"])
    late = match_features(
        local_features(a), local_features(b, reload=lambda: b), min_inliers=RULE["min_inliers"]
    )
    assert (late.inliers, late.matches, late.mirrored) == (
        eager.inliers,
        eager.matches,
        eager.mirrored,
    )


@pytest.mark.parametrize("keep, flip_reads", [(256, 1), (0, 2)])
def test_a_crop_is_verified_without_the_mirror_and_a_flip_with_it(
    copies, keep: int, flip_reads: int
) -> None:
    reads: Counter = Counter()
    keys = ["original", "crop", "flip", "other"]
    features = features_from_pixels(_loader(copies, reads), keys, keep=keep)
    vectors = np.array([[1, 0, 0], [0.96, 0.28, 0], [0.95, 0, 0.3122], [0, 1, 0]], np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    found = verified_neighbors(vectors, features, options=VerifyOptions(candidate_cosine=0.5))
    assert sorted(map(tuple, found.pairs.tolist())) == [(0, 1), (0, 2)]
    pairs = found.pairs.tolist()
    mirrored = {tuple(p): m.mirrored for p, m in zip(pairs, found.matches, strict=True)}
    assert mirrored == {(0, 1): False, (0, 2): True}
    assert reads["crop"] == 1 and reads["original"] == 1  # no mirror was needed for them
    assert reads["flip"] == flip_reads  # its mirror: from the recent copies, or read again


def test_pairs_at_the_accept_cosine_need_no_pixels(copies) -> None:
    reads: Counter = Counter()
    features = features_from_pixels(_loader(copies, reads), ["original", "other"])
    vectors = np.array([[1, 0], [0.999, 0.0447]], np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    opts = VerifyOptions(accept_cosine=0.99)
    found = verified_neighbors(vectors, features, options=opts)
    assert found.pairs.tolist() == [[0, 1]] and found.matches == [None]
    assert found.verified == 0 and not reads
    strict = verified_neighbors(vectors, features, options=VerifyOptions(accept_cosine=None))
    assert len(strict.pairs) == 0 and strict.verified == 1
