"""Qdrant Edge versions: build beside the served index, publish by pointer, swap, prune.

Every test runs the real Qdrant Edge engine on disk; the reader is the same ``LiveIndex``
the API uses.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from index_data import clustered, make_points, sha

from winnow.config import get_settings
from winnow.index import build_index, index_location, open_index, open_live_index, sync_points
from winnow.index.copying import copy_shard
from winnow.index.live import LiveIndex, ReadOnlyIndexError
from winnow.index.versions import VersionStore
from winnow.locks import LockBusyError

DIM = 16


@pytest.fixture()
def settings(tmp_path: Path):
    return get_settings(data_dir=tmp_path, index={"collection": "photos"})


def publish(settings, points) -> None:
    with build_index(settings) as index:
        index.upsert(points)


def points(n: int, *, start: int = 0, seed: int = 0):
    vectors, groups = clustered(start + n, DIM, 3, seed=seed)
    return make_points(vectors, groups)[start:]


def test_a_build_is_published_and_the_reader_swaps_to_it(settings) -> None:
    legacy = open_index(settings)  # data from before versions: version 0, in place
    legacy.upsert(points(10))
    legacy.close()
    reader = open_live_index(settings, poll_s=3600)  # swaps only when told, below
    assert isinstance(reader, LiveIndex) and reader.version == "photos"
    assert reader.count() == 10

    publish(settings, points(5, start=10))  # the reader holds version 0 meanwhile
    store = VersionStore(settings.data_dir / "index", "photos")
    assert store.pointer.read_text() == "000001\n"
    assert index_location(settings) == str(store.home / "000001")
    assert reader.count() == 10  # still the old version until it refreshes
    assert reader.refresh() and reader.version == "000001"
    assert reader.count() == 15  # the copy kept version 0's points, the build added 5
    assert reader.retrieve([sha(12)])[0].payload["task_id"] == 12
    assert not reader.refresh()  # nothing new
    with pytest.raises(ReadOnlyIndexError):
        reader.upsert(points(1))
    reader.close()
    assert (settings.data_dir / "index" / "photos").is_dir()  # version 0 is the previous one


def test_the_watcher_swaps_without_being_asked(settings) -> None:
    publish(settings, points(4))
    reader = open_live_index(settings, poll_s=0.05)
    publish(settings, points(3, start=4))
    from winnow.services.process import wait_until

    assert wait_until(lambda: reader.count() == 7, timeout_s=10, interval_s=0.05)
    assert reader.version == "000002"
    reader.close()


def test_a_failed_build_leaves_the_pointer_and_the_reader_alone(settings) -> None:
    publish(settings, points(6))
    reader = open_live_index(settings, poll_s=3600)
    with pytest.raises(RuntimeError, match="killed"), build_index(settings) as index:
        index.upsert(points(6, start=6))
        index.delete([sha(0)])
        raise RuntimeError("killed half-way")
    store = VersionStore(settings.data_dir / "index", "photos")
    assert store.pointer.read_text() == "000001\n"
    assert not list(store.home.glob(".building-*"))  # the half-built copy is gone
    assert not reader.refresh() and reader.count() == 6 and reader.retrieve([sha(0)])
    publish(settings, points(1, start=6))  # the next build starts from the old version
    assert reader.refresh() and reader.count() == 7 and reader.version == "000002"
    reader.close()


def test_prune_keeps_current_previous_and_what_a_reader_holds(settings) -> None:
    store = VersionStore(settings.data_dir / "index", "photos")
    publish(settings, points(2))
    reader = open_live_index(settings, poll_s=3600)  # holds 000001
    for i in range(3):
        publish(settings, points(1, start=2 + i))
    names = sorted(p.name for p in store.published())
    assert names == ["000001", "000003", "000004"]  # 000002 pruned; 000001 is held
    assert reader.count() == 2  # and still answers from its own version
    assert reader.refresh() and reader.count() == 5
    publish(settings, points(1, start=5))
    assert sorted(p.name for p in store.published()) == ["000004", "000005"]
    reader.close()


def test_a_scan_that_spans_a_swap_finishes_on_its_version(settings) -> None:
    publish(settings, points(3000))  # three scroll pages of 1024
    reader = open_live_index(settings, poll_s=3600)
    scan = reader.points()
    first = [next(scan) for _ in range(10)]
    with build_index(settings) as index:
        index.delete([p.sha256 for p in points(3000)[:1500]])
    assert reader.refresh()
    rest = list(scan)  # the old version was kept open for this scan
    assert len(first) + len(rest) == 3000
    assert reader.count() == 1500
    reader.close()


def test_incremental_sync_into_a_new_version_writes_only_changes(settings) -> None:
    vectors, _ = clustered(8, DIM, 2)
    frame = pd.DataFrame(
        {
            "task_id": range(1, 9),
            "image": [f"/data/upload/{i}.jpg" for i in range(8)],
            "sha256": [sha(i) for i in range(8)],
            "labels": [["cat"] if i % 2 else ["dog"] for i in range(8)],
            "split": "train",
            "flags": [[] for _ in range(8)],
        }
    )
    by_sha = {sha(i): vectors[i] for i in range(8)}
    with build_index(settings) as index:
        first = sync_points(index, frame, by_sha, project=1)
    frame.at[0, "labels"] = ["cat"]
    with build_index(settings) as index:
        second = sync_points(index, frame.iloc[:7], by_sha, project=1)
    assert (first.upserted, second.upserted, second.unchanged, second.deleted) == (8, 1, 6, 1)


def test_a_second_build_at_once_is_refused(settings) -> None:
    with build_index(settings) as index:
        index.upsert(points(1))
        with pytest.raises(LockBusyError, match="index build"), build_index(settings):
            pass


def test_copy_keeps_the_shard_sparse(settings, tmp_path: Path) -> None:
    publish(settings, points(200))
    source = VersionStore(settings.data_dir / "index", "photos").current()
    copy_shard(source, tmp_path / "copy")

    def usage(root: Path) -> tuple[int, int]:
        files = [p for p in root.rglob("*") if p.is_file()]
        return sum(os.stat(p).st_blocks * 512 for p in files), sum(p.stat().st_size for p in files)

    (used, size), (copy_used, copy_size) = usage(source), usage(tmp_path / "copy")
    assert copy_size == size and size > 20 * used  # preallocated files, mostly holes
    assert copy_used <= used * 1.5 + 65536
    copied = open_index(get_settings(index={"path": tmp_path, "collection": "copy"}))
    assert copied.count() == 200
    hits = copied.search(np.asarray(points(200)[0].vector), k=1)
    assert hits[0].sha256 == sha(0)
    copied.close()
