"""Verification on threads, or from a cache of earlier raw matches, answers exactly as on one
thread from the pixels: same pairs, evidence, counts and shapes.

Real photos (scikit-image) with crops, mirrors, rescales and rotations, plus Tux Paint stamps
(look-alike drawings that RANSAC rejects), and a loose candidate threshold so that many
candidates are matched, many rejected and many skipped as already grouped.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from analysis.duplicates_verify import (
    MatchCache,
    PairMatch,
    VerifyOptions,
    features_from_pixels,
    verified_neighbors,
)
from analysis.verify_ahead import Once
from winnow.features.measure import make_thumbnail

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "camera")
STAMPS = Path("/usr/share/tuxpaint/stamps/animals")


def _variants(image: Image.Image) -> list[Image.Image]:
    w, h = image.size
    return [
        image,
        image.crop((w // 10, h // 8, w - w // 12, h - h // 10)),
        image.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        image.resize((w // 2, h // 2)),
        image.rotate(8, expand=False),
        image.crop((0, 0, w // 2, h // 2)),
    ]


@pytest.fixture(scope="module")
def working_copies() -> list[np.ndarray]:
    images = [v for name in PHOTOS for v in _variants(Image.fromarray(getattr(data, name)()))]
    for path in sorted(STAMPS.glob("*/*.png"))[:16] if STAMPS.is_dir() else []:
        with Image.open(path) as stamp:
            flat = Image.new("RGBA", stamp.size, (255, 255, 255, 255))
            images.append(Image.alpha_composite(flat, stamp.convert("RGBA")))
    return [np.asarray(make_thumbnail(im.convert("L"), 320)) for im in images]


def _vectors(copies: list[np.ndarray]) -> np.ndarray:
    """A crude embedding (a 6x6 gray thumbnail), loose enough to make many candidates."""
    small = [np.asarray(Image.fromarray(c).resize((6, 6)), np.float32).ravel() for c in copies]
    v = np.stack(small)
    v -= v.mean(axis=1, keepdims=True)
    v += 1e-3
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _run(
    copies: list[np.ndarray],
    workers: int,
    reads: Counter | None = None,
    cache: MatchCache | None = None,
    **options: float,
):
    def pixels(key: str) -> np.ndarray:
        if reads is not None:
            reads[key] += 1
        return copies[int(key)]

    keys = [str(i) for i in range(len(copies))]
    opts = VerifyOptions(candidate_cosine=0.3, neighbors=8, workers=workers, **options)
    features = features_from_pixels(pixels, keys)
    return verified_neighbors(_vectors(copies), features, options=opts, cache=cache)


class DictCache:
    """A MatchCache in memory that records what it was asked and given."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, tuple[int, int]], PairMatch] = {}
        self.saves = 0

    def load(self, version: str, pairs) -> dict:
        return {p: self.rows[(version, p)] for p in pairs if (version, p) in self.rows}

    def save(self, version: str, found) -> None:
        self.saves += 1
        self.rows.update({(version, p): m for p, m in found.items()})


def _evidence(found) -> list[tuple]:
    return [
        None
        if m is None
        else (
            m.inliers,
            m.matches,
            m.mirrored,
            None if m.homography is None else m.homography.tobytes(),
        )
        for m in found.matches
    ]


@pytest.mark.parametrize("workers", [2, 4])
def test_threads_keep_the_sequential_answer(working_copies, workers: int) -> None:
    one = _run(working_copies, 1)
    many = _run(working_copies, workers)
    assert one.verified > 20 and one.skipped > 5 and len(one.pairs) > 10  # a real workout
    assert one.verified > len(one.pairs)  # some candidates were rejected
    assert np.array_equal(one.pairs, many.pairs)
    assert np.array_equal(one.sims, many.sims)
    assert _evidence(one) == _evidence(many)
    assert (one.candidates, one.verified, one.skipped) == (
        many.candidates,
        many.verified,
        many.skipped,
    )
    assert one.shapes == many.shapes


def test_threads_read_each_working_copy_once_more_at_most(working_copies) -> None:
    sequential, threaded = Counter(), Counter()
    _run(working_copies, 1, sequential)
    _run(working_copies, 3, threaded)
    assert set(sequential) <= set(threaded)
    assert all(threaded[k] <= sequential[k] + 1 for k in threaded)  # a mirror may race once


@pytest.mark.parametrize("workers", [1, 3])
def test_a_filled_cache_answers_without_pixels(working_copies, workers: int) -> None:
    fresh = _run(working_copies, 1)
    cache = DictCache()
    filling = _run(working_copies, workers, cache=cache)
    assert cache.saves == 1 and len(cache.rows) >= fresh.verified  # every match, kept or not
    assert filling.cached == 0
    reads: Counter = Counter()
    again = _run(working_copies, workers, reads, cache=cache)
    assert sum(reads.values()) == 0  # no working copy was read
    assert again.cached == again.verified == fresh.verified
    assert np.array_equal(again.pairs, fresh.pairs)
    assert np.array_equal(again.sims, fresh.sims)
    assert _evidence(again) == _evidence(fresh)
    assert (again.candidates, again.skipped) == (fresh.candidates, fresh.skipped)
    assert again.shapes == fresh.shapes
    assert cache.saves == 1  # nothing new to save


def test_cached_raw_matches_are_decided_again_under_new_thresholds(working_copies) -> None:
    cache = DictCache()
    _run(working_copies, 1, cache=cache)
    strict = {"min_ratio": 0.8}  # same min_inliers: the raw matches stay valid
    fresh = _run(working_copies, 1, **strict)
    reads: Counter = Counter()
    before = set(cache.rows)
    cached = _run(working_copies, 1, reads, cache=cache, **strict)
    assert len(fresh.pairs) < len(_run(working_copies, 1).pairs)  # the threshold bites
    assert np.array_equal(cached.pairs, fresh.pairs)
    assert _evidence(cached) == _evidence(fresh)
    assert cached.cached > 0
    # pixels were read only for pairs that the looser run had never matched
    added = {i for _, pair in set(cache.rows) - before for i in pair}
    assert cached.verified - cached.cached == len(set(cache.rows) - before)
    assert {int(k) for k in reads} <= added
    # another min_inliers changes the raw match (the mirror's RANSAC is skipped below it),
    # so it is another version: nothing is reused.
    other = _run(working_copies, 1, cache=cache, min_inliers=30)
    assert other.cached == 0


def test_once_computes_each_key_once_under_contention() -> None:
    calls: Counter = Counter()
    lock = threading.Lock()

    def slow_square(i: int) -> int:
        with lock:
            calls[i] += 1
        time.sleep(0.01)
        return i * i

    once = Once(slow_square)
    results: list[int] = []
    threads = [threading.Thread(target=lambda k=k: results.append(once(k % 3))) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted((k % 3) ** 2 for k in range(12))
    assert calls == Counter({0: 1, 1: 1, 2: 1})


def test_once_hands_an_error_to_every_caller() -> None:
    calls: Counter = Counter()

    def broken(i: int) -> int:
        calls[i] += 1
        raise OSError(f"cannot read {i}")

    once = Once(broken)
    for _ in range(2):
        with pytest.raises(OSError, match="cannot read 7"):
            once(7)
    assert calls[7] == 1


def test_workers_must_be_positive(working_copies) -> None:
    with pytest.raises(ValueError, match="workers"):
        _run(working_copies[:4], 0)
