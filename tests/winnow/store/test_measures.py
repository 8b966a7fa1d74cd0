"""The per-content measurement cache: one value per (content, kind, version)."""

import sqlite3
from pathlib import Path

from winnow.store import FeatureStore
from winnow.store.measures import MeasureCache


def test_values_round_trip_by_kind_and_version(tmp_path: Path) -> None:
    path = tmp_path / "features.sqlite"
    with MeasureCache(path) as cache:
        cache.put("keeper", "1", {"a" * 64: {"width": 640, "upscale": 1.5}, "b" * 64: {"x": 1}})
        cache.put("keeper", "2", {"a" * 64: {"width": 320}})
        cache.put("other", "1", {"a" * 64: {"width": 1}})
    with MeasureCache(path) as cache:  # a new connection reads what the first wrote
        assert cache.get("keeper", "1", ["a" * 64, "c" * 64]) == {
            "a" * 64: {"width": 640, "upscale": 1.5}
        }
        assert cache.get("keeper", "2", ["a" * 64, "b" * 64]) == {"a" * 64: {"width": 320}}
        assert cache.get("other", "1", ["a" * 64]) == {"a" * 64: {"width": 1}}
        assert cache.get("keeper", "3", ["a" * 64]) == {}


def test_a_later_put_replaces_and_many_keys_are_chunked(tmp_path: Path) -> None:
    shas = [f"{i:064x}" for i in range(2000)]  # more than one IN (...) chunk
    with MeasureCache(tmp_path / "f.sqlite") as cache:
        cache.put("k", "1", {sha: {"i": i} for i, sha in enumerate(shas)})
        cache.put("k", "1", {shas[7]: {"i": -7}})
        found = cache.get("k", "1", shas)
    assert len(found) == 2000
    assert found[shas[7]] == {"i": -7}
    assert found[shas[1999]] == {"i": 1999}


def test_a_damaged_row_is_left_out_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite"
    with MeasureCache(path) as cache:
        cache.put("k", "1", {"good": {"v": 1}, "bad": {"v": 2}, "list": {"v": 3}})
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE measures SET value = '{not json' WHERE key = 'bad'")
        db.execute("UPDATE measures SET value = '[1, 2]' WHERE key = 'list'")
    db.close()
    with MeasureCache(path) as cache:
        assert cache.get("k", "1", ["good", "bad", "list"]) == {"good": {"v": 1}}


def test_shares_the_feature_store_file_without_touching_its_tables(tmp_path: Path) -> None:
    path = tmp_path / "features.sqlite"
    with FeatureStore(path) as store:
        before = store.counts()
    with MeasureCache(path) as cache:
        cache.put("k", "1", {"s": {"v": 1}})
    with FeatureStore(path) as store:
        assert store.counts() == before
    with MeasureCache(path) as cache:
        assert cache.get("k", "1", ["s"]) == {"s": {"v": 1}}
