"""Outlier scores from the blocked kNN match Cleanlab's all-pairs scores on real images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from cleanlab.outlier import OutOfDistribution
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from skimage import data

from analysis.embedding_pairs import embedding_knn, knn_with_copies
from analysis.outliers import find_outliers

PHOTOS = ("astronaut", "camera", "coffee", "rocket", "brick", "grass", "moon", "page", "clock")


def _unit(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def faces_and_photos() -> np.ndarray:
    """200 real 25x25 crops (LFW faces and non-faces), then 9 real photos shrunk alike: pixel
    vectors, centred and L2-normalised, so cosine means something."""
    crops = data.lfw_subset().reshape(200, -1)
    photos = [
        np.asarray(Image.fromarray(getattr(data, n)()).convert("L").resize((25, 25))) / 255.0
        for n in PHOTOS
    ]
    return _unit(np.concatenate([crops, np.stack(photos).reshape(len(PHOTOS), -1)]))


def _reference(x: np.ndarray, k: int = 10) -> np.ndarray:
    """What find_outliers computed before: Cleanlab over scikit-learn all-pairs neighbours."""
    ood = OutOfDistribution(params={"k": k})
    return np.clip(ood.fit_score(features=x, verbose=False), 0.0, 1.0)


def test_scores_match_the_all_pairs_reference_on_real_images(faces_and_photos) -> None:
    x = faces_and_photos
    expected = _reference(x)
    found = find_outliers(x)
    np.testing.assert_allclose(found.score, expected, atol=1e-6)
    flagged_before = np.flatnonzero(expected < found.cutoff)
    np.testing.assert_array_equal(np.sort(found.ranked), flagged_before)
    assert np.array_equal(np.argsort(found.score)[:20], np.argsort(expected)[:20])


def test_a_shared_content_knn_with_copies_gives_the_same_scores(faces_and_photos) -> None:
    """The audit runs one kNN over distinct contents and spreads it to copies: the scores
    must equal Cleanlab's over every file, copies included (they sit at distance 0)."""
    contents = faces_and_photos
    codes = np.concatenate([np.arange(len(contents)), [3, 3, 3, 150, 205, 205]])
    files = contents[codes]
    idx, sims = embedding_knn(contents, k=10, block=64)
    spread = knn_with_copies(sims, idx, codes, k=10)
    found = find_outliers(files, neighbor_sims=spread)
    np.testing.assert_allclose(found.score, _reference(files), atol=1e-6)
    alone = find_outliers(contents).score
    assert found.score[3] > alone[3] and found.score[205] > alone[205]  # copies pull inwards


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 30), st.integers(0, 2**31), st.lists(st.integers(0, 29), max_size=20))
def test_spread_knn_equals_a_knn_over_all_files(n: int, seed: int, extra: list[int]) -> None:
    rng = np.random.default_rng(seed)
    contents = _unit(rng.normal(size=(n, 6)))
    codes = np.concatenate([np.arange(n), np.array(extra, dtype=np.int64) % n])
    k = min(4, len(codes) - 1)
    idx, sims = embedding_knn(contents, k=min(k, n - 1), block=3)
    spread = knn_with_copies(sims, idx, codes, k=k)
    full = contents[codes] @ contents[codes].T
    np.fill_diagonal(full, -np.inf)
    expected = -np.sort(-full, axis=1)[:, :k]
    np.testing.assert_allclose(spread, expected, atol=1e-5)


def test_neighbor_sims_must_cover_k() -> None:
    x = _unit(np.random.default_rng(0).normal(size=(20, 4)))
    with pytest.raises(ValueError, match="at least k=10"):
        find_outliers(x, neighbor_sims=np.ones((20, 3)))
    with pytest.raises(ValueError, match="neighbor_sims"):
        find_outliers(x, neighbor_sims=np.ones((19, 10)))


def test_the_audit_scores_outliers_from_its_shared_knn(faces_and_photos) -> None:
    from analysis.audit import AuditOptions, audit

    codes = np.concatenate([np.arange(len(faces_and_photos)), [7, 7, 201]])
    table = pd.DataFrame(
        {
            "uri": [f"f{i}.png" for i in range(len(codes))],
            "sha256": [f"s{c}" for c in codes],
            "label": None,
            "split": None,
            "error_kind": None,
            "format": "PNG",
            "phash": 0,
            "width": 25,
            "height": 25,
            "blur": 100.0,
            "brightness": 0.5,
            "dark_fraction": 0.0,
            "bright_fraction": 0.0,
            "entropy": 7.0,
            "is_grayscale": True,
            "has_alpha": False,
            "exif_orientation": 1,
        }
    )
    options = AuditOptions(checks=frozenset({"outlier"}))
    result = audit(table, embeddings=faces_and_photos[codes], options=options)
    np.testing.assert_allclose(
        1.0 - result.files["outlier_score"].to_numpy(float),
        _reference(faces_and_photos[codes]),
        atol=1e-6,
    )
    assert set(result.issues["issue_type"]) == {"outlier"}
