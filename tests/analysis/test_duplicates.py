import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps
from skimage import data

from analysis.duplicates import (
    choose_keepers,
    cluster_pairs,
    embedding_neighbors,
    embedding_neighbors_from_knn,
    hamming_pairs,  # the brute-force reference
    hash_neighbors,
    near_duplicate_groups,
    split_leakage,
)
from analysis.hamming_index import mih_plan, pairs_within
from winnow.features.measure import make_thumbnail, measure_image

PHOTOS = [
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "camera",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "coins",
    "clock",
    "brick",
    "grass",
    "gravel",
    "cell",
    "retina",
    "page",
    "text",
]


@st.composite
def hash_sets(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Random int64 hashes (uniform, or sparse so substrings collide) with planted copies
    that differ in up to ``radius + 1`` bits, exact repeats, shuffled."""
    radius = draw(st.integers(0, 10))
    n = draw(st.integers(1, 120))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density = draw(st.sampled_from([0.5, 0.1]))
    bits = rng.random((n, 64)) < density
    base = np.packbits(bits, axis=1).view(">i8").ravel().astype(np.int64)
    planted = base[rng.integers(0, n, draw(st.integers(0, n)))].copy()
    for k in range(len(planted)):
        flips = rng.choice(64, rng.integers(0, radius + 2), replace=False)
        planted[k] ^= np.bitwise_or.reduce(np.left_shift(1, flips), initial=0)
    repeats = base[rng.integers(0, n, draw(st.integers(0, 5)))]
    hashes = np.concatenate([base, planted, repeats])
    return hashes[rng.permutation(len(hashes))], radius


def _brute(hashes: np.ndarray, radius: int) -> np.ndarray:
    ref = hamming_pairs(hashes, threshold=radius)
    return ref[np.lexsort((ref[:, 1], ref[:, 0]))]


@settings(max_examples=150, deadline=None)
@given(hash_sets(), st.sampled_from(["auto", "mih", "scan"]))
def test_hash_neighbors_equal_brute_force(case: tuple[np.ndarray, int], method: str) -> None:
    hashes, radius = case
    pairs = hash_neighbors(hashes, radius=radius, method=method)
    assert pairs.dtype == np.int64 and pairs.shape[1] == 2
    np.testing.assert_array_equal(pairs, _brute(hashes, radius))


@settings(max_examples=100, deadline=None)
@given(hash_sets(), st.integers(1, 11))
def test_every_multi_index_plan_is_exact(case: tuple[np.ndarray, int], m: int) -> None:
    hashes, radius = case
    distinct = np.unique(hashes.view(np.uint64))
    plan = mih_plan(len(distinct), radius, m)
    if plan is None:  # m > radius + 1, or a probed substring too wide for a table
        assert m > radius + 1 or m < 3
        return
    got = pairs_within(distinct, radius, plan)
    np.testing.assert_array_equal(got, _brute(distinct.view(np.int64), radius))


@settings(max_examples=60, deadline=None)
@given(hash_sets(), st.randoms())
def test_relation_is_symmetric_and_each_pair_appears_once(case, random) -> None:
    hashes, radius = case
    perm = np.array(random.sample(range(len(hashes)), len(hashes)))
    pairs = hash_neighbors(hashes, radius=radius)
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert len({tuple(p) for p in pairs.tolist()}) == len(pairs)
    # Relabelling the items relabels the pairs: no order dependence, no direction.
    moved = perm[hash_neighbors(hashes[perm], radius=radius)]
    assert {tuple(sorted(p)) for p in moved.tolist()} == {tuple(p) for p in pairs.tolist()}


@settings(max_examples=60, deadline=None)
@given(hash_sets())
def test_star_links_give_the_same_clusters(case: tuple[np.ndarray, int]) -> None:
    hashes, radius = case
    every = hash_neighbors(hashes, radius=radius)
    star = hash_neighbors(hashes, radius=radius, links="star")
    assert len(star) <= len(every)
    assert {tuple(p) for p in star.tolist()} <= {tuple(p) for p in every.tolist()}
    n = len(hashes)
    np.testing.assert_array_equal(cluster_pairs(n, star), cluster_pairs(n, every))


def test_many_identical_hashes_are_refused_or_linked_as_a_star() -> None:
    flat = np.r_[np.zeros(10_000, np.int64), 1, 3, 7 << 40]  # 10k flat images, 3 others
    with pytest.raises(ValueError, match="links='star'"):
        hash_neighbors(flat, radius=1)
    star = hash_neighbors(flat, radius=1, links="star")
    # 9,999 zeros to the first zero, that one to hash 1, hash 1 to hash 3.
    assert len(star) == 10_001 and star[-1].tolist() == [10_000, 10_001]
    clusters = cluster_pairs(len(flat), star)
    assert (clusters[:10_002] == 0).all() and clusters[10_002] == 1


def test_max_pairs_bounds_the_expanded_output() -> None:
    flat = np.r_[np.zeros(300, np.int64), 1]
    every = 300 * 299 // 2 + 300
    assert len(hash_neighbors(flat, radius=1, max_pairs=every)) == every
    with pytest.raises(ValueError, match=f"{every} pairs lie within radius 1"):
        hash_neighbors(flat, radius=1, max_pairs=every - 1)


@pytest.mark.parametrize("method", ["mih", "scan"])
@pytest.mark.parametrize("links", ["all", "star"])
def test_empty_and_single_inputs_give_no_pairs(method: str, links: str) -> None:
    for hashes in (np.zeros(0, np.int64), np.array([7], np.int64)):
        for radius in (0, 3, 8):
            pairs = hash_neighbors(hashes, radius=radius, method=method, links=links)
            assert pairs.shape == (0, 2) and pairs.dtype == np.int64


def test_mirrored_hashes_link_either_orientation() -> None:
    hashes = np.array([0b1111, 0b1111 << 60, 0b1 << 30], dtype=np.uint64)
    mirrored = np.array([0b1111 << 60, 0b1111, 0b1 << 31], dtype=np.uint64)
    np.testing.assert_array_equal(hash_neighbors(hashes, radius=0), np.zeros((0, 2)))
    got = hash_neighbors(hashes, radius=0, mirrored=mirrored)
    np.testing.assert_array_equal(got, [[0, 1]])  # item 2 matches only its own mirror


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"hashes": np.zeros(3), "radius": 1}, TypeError, "dtype float64"),
        ({"hashes": np.zeros((3, 2), np.int64), "radius": 1}, ValueError, r"shape \(\*,\)"),
        ({"hashes": np.zeros(3, np.int64), "radius": 65}, ValueError, r"\[0, 64\], got 65"),
        ({"hashes": np.zeros(3, np.int64), "radius": 1.5}, TypeError, "radius"),
        ({"hashes": np.zeros(3, np.int64), "radius": 1, "links": "some"}, ValueError, "links"),
        ({"hashes": [1, 2], "radius": 1, "mirrored": [1]}, ValueError, r"mirrored.*\(2,\)"),
    ],
)
def test_hash_neighbors_rejects_bad_input(kwargs, error, message) -> None:
    hashes = kwargs.pop("hashes")
    with pytest.raises(error, match=message):
        hash_neighbors(hashes, **kwargs)


# --- clusters, keepers, leakage ----------------------------------------------------------


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, np.ndarray]:
    n = draw(st.integers(1, 40))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=60))
    return n, np.array(edges, dtype=np.int64).reshape(-1, 2)


def _components(n: int, pairs: np.ndarray) -> list[set[int]]:
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in pairs.tolist():
        parent[root(a)] = root(b)
    groups: dict[int, set[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), set()).add(i)
    return list(groups.values())


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_cluster_ids_match_the_components(graph: tuple[int, np.ndarray]) -> None:
    n, pairs = graph
    ids = cluster_pairs(n, pairs)
    assert ids.shape == (n,) and ids.dtype == np.int64
    assert all(ids[a] == ids[b] for a, b in pairs.tolist())
    found = [set(np.flatnonzero(ids == c).tolist()) for c in np.unique(ids)]
    assert sorted(map(sorted, found)) == sorted(map(sorted, _components(n, pairs)))
    firsts = [int(np.flatnonzero(ids == c)[0]) for c in range(ids.max() + 1)]
    assert firsts == sorted(firsts)  # numbered by lowest member


@settings(max_examples=100, deadline=None)
@given(graphs(), st.data())
def test_one_keeper_per_cluster_with_the_best_quality(graph, data_) -> None:
    n, pairs = graph
    ids = cluster_pairs(n, pairs)
    quality = np.array(
        data_.draw(st.lists(st.sampled_from([0.1, 0.5, 0.9, np.nan]), min_size=n, max_size=n))
    )
    keep = choose_keepers(ids, quality=quality)
    ranked = np.where(np.isnan(quality), -np.inf, quality)
    for c in np.unique(ids):
        members = np.flatnonzero(ids == c)
        kept = members[keep[members]]
        assert len(kept) == 1
        best = members[ranked[members] == ranked[members].max()]
        assert kept[0] == best[0]  # highest quality, ties to the lowest index


def test_keepers_exact_values() -> None:
    ids = np.array([0, 0, 1, 0, 2, 2])
    keep = choose_keepers(ids, quality=np.array([0.2, 0.9, 0.1, 0.9, np.nan, 0.0]))
    np.testing.assert_array_equal(keep, [False, True, True, False, False, True])


@settings(max_examples=100, deadline=None)
@given(graphs(), st.data())
def test_leakage_only_for_clusters_spanning_splits(graph, data_) -> None:
    n, pairs = graph
    ids = cluster_pairs(n, pairs)
    splits = data_.draw(
        st.lists(st.sampled_from(["train", "val", "test", None, np.nan]), min_size=n, max_size=n)
    )
    leak = split_leakage(ids, np.array(splits, dtype=object))
    for i in range(n):
        assigned = {s for j, s in enumerate(splits) if ids[j] == ids[i] and isinstance(s, str)}
        assert leak[i] == (isinstance(splits[i], str) and len(assigned) > 1)


def test_near_duplicate_groups_unite_pair_lists() -> None:
    phash_pairs = np.array([[0, 1]])
    embedding_pairs = np.array([[1, 4]])
    groups = near_duplicate_groups(
        6,
        [phash_pairs, embedding_pairs],
        quality=np.array([1, 3, 0, 0, 2, 0.0]),
        splits=np.array(["train", "train", "val", "val", "test", None], dtype=object),
    )
    np.testing.assert_array_equal(groups.cluster, [0, 0, 1, 2, 0, 3])
    np.testing.assert_array_equal(groups.size, [3, 3, 1, 1, 3, 1])
    np.testing.assert_array_equal(groups.keep, [False, True, True, True, False, True])
    np.testing.assert_array_equal(groups.leak, [True, True, False, False, True, False])


# --- embeddings ---------------------------------------------------------------------------


def _unit_rows(rng: np.random.Generator, n: int, d: int, copies: int) -> np.ndarray:
    """Random unit vectors plus ``copies`` noisy near-copies of some of them."""
    v = rng.normal(size=(n, d))
    src = rng.integers(0, n, copies)
    v = np.vstack([v, v[src] + rng.normal(scale=rng.uniform(0.05, 0.6), size=(copies, d))])
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 300),
    st.sampled_from([0.5, 0.8, 0.95]),
    st.sampled_from([1, 7, 64, 4096]),
)
def test_embedding_neighbors_equal_brute_force(seed, n, threshold, block) -> None:
    v = _unit_rows(np.random.default_rng(seed), n, 16, n // 3)
    pairs, sims = embedding_neighbors(v, threshold=threshold, block=block)
    exact = v.astype(np.float64) @ v.T.astype(np.float64)
    i, j = np.triu_indices(len(v), 1)
    sim = exact[i, j]
    above = (np.abs(sim - threshold) > 1e-5) & (sim >= threshold)  # float32 decides the rest
    want = set(zip(i[above].tolist(), j[above].tolist(), strict=True))
    got = {tuple(p) for p in pairs.tolist()}
    assert {p for p in got if abs(exact[p] - threshold) > 1e-5} == want
    assert (pairs[:, 0] < pairs[:, 1]).all() and (np.diff(pairs[:, 0]) >= 0).all()
    np.testing.assert_allclose(sims, exact[pairs[:, 0], pairs[:, 1]], atol=1e-5)


def test_embedding_neighbors_from_knn_equal_the_blocked_scan() -> None:
    v = _unit_rows(np.random.default_rng(3), 400, 32, 150)
    pairs, sims = embedding_neighbors(v, threshold=0.9, block=128)
    full = v @ v.T
    k = 8  # more than any item's number of neighbours above 0.9 here
    assert (np.sum(full >= 0.9, axis=1) < k).all()
    order = np.argsort(-full, axis=1)[:, :k]
    knn_sims = np.take_along_axis(full, order, axis=1)
    order[:, -1] = -1  # some rows came back short
    got, got_sims = embedding_neighbors_from_knn(order, knn_sims, threshold=0.9)
    np.testing.assert_array_equal(got, pairs)
    np.testing.assert_allclose(got_sims, sims, atol=1e-6)


def test_embedding_input_is_checked() -> None:
    with pytest.raises(ValueError, match="L2-normalised"):
        embedding_neighbors(np.ones((3, 4), np.float32), threshold=0.9)
    with pytest.raises(ValueError, match=r"threshold must be in \[-1.0, 1.0\], got 2"):
        embedding_neighbors(np.eye(3, dtype=np.float32), threshold=2)
    with pytest.raises(TypeError, match="float"):
        embedding_neighbors(np.eye(3, dtype=np.int64), threshold=0.5)
    with pytest.raises(ValueError, match=r"indices must lie in \[-1, 2\)"):
        embedding_neighbors_from_knn(np.array([[1], [5]]), np.ones((2, 1)), threshold=0.5)
    with pytest.raises(ValueError, match="max_pairs"):
        embedding_neighbors(np.ones((50, 1), np.float32), threshold=0.5, max_pairs=10)


# --- real photos --------------------------------------------------------------------------


def _jpeg50(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=50)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _half(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.BILINEAR)


def _crop5(image: Image.Image) -> Image.Image:
    """Keep the central 95% of width and height."""
    dx, dy = round(image.width * 0.025), round(image.height * 0.025)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


VARIANTS = {
    "jpeg50": _jpeg50,
    "half": _half,
    "jpeg50+half": lambda im: _half(_jpeg50(im)),
    "crop5": _crop5,
    "flip": ImageOps.mirror,
    "flip+jpeg50": lambda im: _jpeg50(ImageOps.mirror(im)),
}


def _hashes(image: Image.Image) -> tuple[int, int]:
    m = measure_image(make_thumbnail(image, 256))
    return m.phash, m.dhash


@pytest.fixture(scope="module")
def photo_hashes() -> np.ndarray:
    """int64 (photo, version, orientation, kind): version 0 is the photo, then VARIANTS in
    order; orientation 0 as is, 1 mirrored; kind 0 pHash, 1 dHash, made as the extractor does."""
    out = []
    for name in PHOTOS:
        image = Image.fromarray(getattr(data, name)()).convert("RGB")
        versions = [image, *(make(image) for make in VARIANTS.values())]
        out.append([[_hashes(v), _hashes(ImageOps.mirror(v))] for v in versions])
    return np.array(out, dtype=np.int64)


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.bitwise_count(a.view(np.uint64) ^ b.view(np.uint64))


def _found(photo_hashes: np.ndarray, variant: str, kind: int, radius: int, **kw) -> np.ndarray:
    """Per photo: does ``hash_neighbors`` over the photos and this variant link the two?"""
    col = 1 + list(VARIANTS).index(variant)
    both = np.concatenate([photo_hashes[:, 0, :, kind], photo_hashes[:, col, :, kind]])
    if kw.pop("use_mirror", False):
        kw["mirrored"] = both[:, 1]
    pairs = {tuple(p) for p in hash_neighbors(both[:, 0], radius=radius, **kw).tolist()}
    n = len(PHOTOS)
    assert all(j == i + n for i, j in pairs), "an unrelated photo was linked"
    return np.array([(i, n + i) in pairs for i in range(n)])


def test_recompressed_and_resized_photos_are_within_radius_4(photo_hashes) -> None:
    for variant in ("jpeg50", "half", "jpeg50+half"):
        assert _found(photo_hashes, variant, kind=0, radius=4).all(), variant
        assert _found(photo_hashes, variant, kind=1, radius=4).mean() >= 0.9, variant


def test_different_photos_are_far_apart(photo_hashes) -> None:
    for kind in (0, 1):
        originals = photo_hashes[:, 0, 0, kind]
        assert len(hash_neighbors(originals, radius=12)) == 0
        assert _distance(originals[:, None], originals[None, :]).max() > 20


def test_phash_moves_under_a_small_crop(photo_hashes) -> None:
    """Cutting 2.5% off each edge shifts pHash far more than recompression does; some crops
    need a radius of 12 or more, and pHash or dHash together recover most at radius 8."""
    col = 1 + list(VARIANTS).index("crop5")
    phash = _distance(photo_hashes[:, 0, 0, 0], photo_hashes[:, col, 0, 0])
    assert np.median(phash) >= 4 and phash.max() > 8
    assert _found(photo_hashes, "crop5", kind=0, radius=4).mean() < 0.5
    by_phash = _found(photo_hashes, "crop5", kind=0, radius=8)
    either = by_phash | _found(photo_hashes, "crop5", kind=1, radius=8)
    assert either.mean() > by_phash.mean() and either.mean() >= 0.8


def test_horizontal_flip_needs_the_mirror_hash(photo_hashes) -> None:
    """pHash does not survive a mirror: a flipped photo is as far as an unrelated one. Hashing
    each image's mirror too (``mirrored=``) finds flipped copies, even re-encoded ones."""
    flip = 1 + list(VARIANTS).index("flip")
    assert (_distance(photo_hashes[:, 0, 0, 0], photo_hashes[:, flip, 0, 0]) >= 20).all()
    assert not _found(photo_hashes, "flip", kind=0, radius=8).any()
    for variant in ("flip", "flip+jpeg50"):
        assert _found(photo_hashes, variant, kind=0, radius=4, use_mirror=True).all()
    # Mirror hashes do not make unrelated photos or other variants collide.
    assert _found(photo_hashes, "jpeg50", kind=0, radius=4, use_mirror=True).all()
