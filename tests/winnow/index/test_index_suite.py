"""The shared suite: the same calls and the same expectations on every index backend."""

from __future__ import annotations

import numpy as np
import pytest
from index_data import MakeIndex, clustered, make_points, sha

from winnow.errors import ConfigError
from winnow.index import IndexPoint, SearchFilter, UnknownPointError, point_id


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    return clustered(300, 32, 6, seed=1)


def test_upsert_is_idempotent_and_updates_payload(make_index: MakeIndex, data) -> None:
    vectors, groups = data
    index = make_index()
    assert index.dim is None and index.count() == 0 and index.search(vectors[0]) == []
    points = make_points(vectors, groups)
    index.upsert(points)
    index.upsert(points)  # same sha256 -> same points
    assert index.count() == 300 and index.dim == 32
    relabelled = IndexPoint(sha(5), vectors[5], {**points[5].payload, "labels": ["new"]})
    index.upsert([relabelled])
    assert index.count() == 300
    [stored] = index.retrieve([sha(5)])
    assert stored.payload["labels"] == ["new"] and stored.sha256 == sha(5)
    assert index.count(SearchFilter(labels="new")) == 1


def test_delete_by_sha_or_point_id_ignores_unknown(make_index: MakeIndex, data) -> None:
    vectors, groups = data
    index = make_index()
    index.upsert(make_points(vectors, groups))
    index.delete([sha(0), point_id(sha(1)), sha("never indexed")])
    assert index.count() == 298
    assert index.retrieve([sha(0), sha(1), sha(2)]) == index.retrieve([sha(2)])
    assert all(hit.sha256 not in {sha(0), sha(1)} for hit in index.search(vectors[0], k=20))


def test_filters_match_payload_arithmetic(make_index: MakeIndex, data) -> None:
    vectors, groups = data
    index = make_index()
    index.upsert(make_points(vectors, groups))
    ids = np.arange(300)
    cases = {
        SearchFilter(labels=["c1", "c2"]): np.isin(groups, [1, 2]),
        SearchFilter(splits="val"): ids % 3 == 1,
        SearchFilter(flags=["label_issue", "pii"]): ids % 7 == 0,
        SearchFilter(exclude_flagged=True): ids % 7 != 0,
        SearchFilter(task_ids=[3, 4, 999]): np.isin(ids, [3, 4]),
        SearchFilter(labels="c0", splits=["train"], exclude_flagged=True): (groups == 0)
        & (ids % 3 == 0)
        & (ids % 7 != 0),
        SearchFilter(project=1, exclude_ids=[sha(0), sha(1)]): ids > 1,
        SearchFilter(project=2): ids < 0,
    }
    for flt, expected in cases.items():
        assert index.count(flt) == expected.sum(), flt
        hits = index.search(vectors[10], k=300, filter=flt)
        assert {h.payload["task_id"] for h in hits} == set(ids[expected].tolist()), flt


def test_search_ranks_by_cosine_with_payload(make_index: MakeIndex, data) -> None:
    vectors, groups = data
    index = make_index()
    index.upsert(make_points(vectors, groups))
    hits = index.search(vectors[42], k=10)
    assert hits[0].sha256 == sha(42) and hits[0].score == pytest.approx(1.0, abs=1e-4)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    expected = np.sort(vectors @ vectors[42])[::-1][:10]
    np.testing.assert_allclose(scores, expected, atol=1e-4)
    assert hits[1].payload["url"].startswith("/data/upload/") and hits[1].id == point_id(
        hits[1].sha256
    )


def test_recommend_follows_examples_and_excludes_them(make_index: MakeIndex, data) -> None:
    vectors, groups = data
    index = make_index()
    index.upsert(make_points(vectors, groups))
    pos = [i for i in range(300) if groups[i] == 2][:3]
    neg = [i for i in range(300) if groups[i] == 3][:2]
    hits = index.recommend([sha(i) for i in pos], [sha(i) for i in neg], k=15)
    got = [h.payload["task_id"] for h in hits]
    assert len(hits) == 15 and not set(got) & set(pos + neg)
    assert all(groups[t] == 2 for t in got)
    filtered = index.recommend([sha(pos[0])], k=5, filter=SearchFilter(splits="test"))
    assert filtered and all(h.payload["split"] == "test" for h in filtered)
    with pytest.raises(UnknownPointError, match=point_id(sha("ghost"))):
        index.recommend([sha(pos[0]), sha("ghost")])
    with pytest.raises(ValueError, match="positive"):
        index.recommend([], [sha(neg[0])])


def test_retrieve_keeps_order_and_vectors_points_iterates_all(make_index: MakeIndex, data) -> None:
    vectors, groups = data
    index = make_index()
    index.upsert(make_points(vectors, groups))
    got = index.retrieve([sha(9), sha("missing"), sha(3)], with_vectors=True)
    assert [p.sha256 for p in got] == [sha(9), sha(3)]
    np.testing.assert_allclose(got[0].vector, vectors[9], atol=1e-5)
    assert index.retrieve([sha(9)])[0].vector is None
    every = list(index.points())
    assert sorted(p.payload["task_id"] for p in every) == list(range(300))
    flagged = list(index.points(SearchFilter(flags="label_issue")))
    assert sorted(p.payload["task_id"] for p in flagged) == list(range(0, 300, 7))


def test_dimension_mismatch_is_a_clear_error(make_index: MakeIndex, data) -> None:
    vectors, groups = data
    index = make_index()
    index.ensure_collection(32)
    index.ensure_collection(32)  # the same dim again is fine
    with pytest.raises(ConfigError, match="32-d vectors, got 16-d"):
        index.ensure_collection(16)
    with pytest.raises(ConfigError, match="dimension mismatch"):
        index.upsert([IndexPoint(sha(1), np.ones(16, np.float32), {})])
    with pytest.raises(ConfigError, match="dimension mismatch"):
        index.search(np.ones(8, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        index.upsert([IndexPoint(sha(1), np.full(32, np.nan, np.float32), {})])
    with pytest.raises(ValueError, match="k must be"):
        index.search(vectors[0], k=0)


def test_reopen_keeps_points_dim_and_filters(make_index: MakeIndex, data) -> None:
    vectors, groups = data
    index = make_index(persistent=True)
    index.upsert(make_points(vectors, groups))
    index.close()
    reopened = make_index(persistent=True)
    assert reopened.dim == 32 and reopened.count() == 300
    assert reopened.count(SearchFilter(labels="c4")) == int((groups == 4).sum())
    assert reopened.search(vectors[7], k=1)[0].sha256 == sha(7)
    with pytest.raises(ConfigError):
        reopened.ensure_collection(64)


def test_recall_at_10_against_exact_search(make_index: MakeIndex) -> None:
    """Enough 256-d vectors that Edge builds an HNSW graph (past its full-scan threshold)."""
    vectors, groups = clustered(12_000 if make_index.backend == "edge" else 1500, 256, 40, seed=3)
    index = make_index(hnsw_ef=128)
    index.upsert(make_points(vectors, groups))
    index.optimize()
    if make_index.backend == "edge":  # the graph, not a brute-force scan, answers
        assert index._shard.info().indexed_vectors_count == len(vectors)
    rng = np.random.default_rng(4)
    queries = vectors[rng.choice(len(vectors), 40, replace=False)]
    queries = queries + 0.3 * rng.normal(size=queries.shape).astype(np.float32) / 16
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    found = [[h.payload["task_id"] for h in index.search(q, k=10)] for q in queries]
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact, strict=True)])
    assert recall >= 0.95


def test_scale_settings_int8_on_disk_keep_results(make_index: MakeIndex, data) -> None:
    vectors, groups = data
    index = make_index(quantization="int8", on_disk=True, hnsw_m=8, hnsw_ef=64)
    index.upsert(make_points(vectors, groups))
    index.optimize()
    for i in (0, 150, 299):
        hits = index.search(vectors[i], k=5)
        assert hits[0].sha256 == sha(i) and hits[0].score == pytest.approx(1.0, abs=1e-3)
    assert index.count(SearchFilter(exclude_flagged=True)) == 300 - 43
