"""Project frame -> index: payloads, incremental sync, and the backend factory."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from index_data import MakeIndex, clustered, sha

from winnow.config import IndexSettings, get_settings
from winnow.errors import ServiceError
from winnow.index import SearchFilter, frame_payloads, open_index, point_id, sync_points
from winnow.index.edge import EdgeIndex
from winnow.index.server import ServerIndex


def project_frame(n: int = 12) -> pd.DataFrame:
    """A frame shaped like sync.project_frame's: one row per task."""
    rows = [
        {
            "task_id": 100 + i,
            "image": f"/data/upload/1/{i}.jpg",
            "sha256": sha(i),
            "labels": ["cat"] if i % 2 else ["dog"],
            "split": "train" if i < 8 else "val",
            "flags": ["near_duplicate"] if i == 3 else [],
            "width": 64,
            "height": 48,
            "source": None,
            "licence": None,
            "collected_at": None,
            "updated_at": "2026-01-01",
        }
        for i in range(n)
    ]
    return pd.DataFrame(rows)


def test_frame_payloads_merge_tasks_sharing_an_image() -> None:
    frame = project_frame(4)
    duplicate = {**frame.iloc[1].to_dict(), "task_id": 99, "labels": ["lynx"], "flags": ["x"]}
    unhashed = {**frame.iloc[0].to_dict(), "task_id": 98, "sha256": None}
    frame = pd.concat([frame, pd.DataFrame([duplicate, unhashed])], ignore_index=True)
    payloads = frame_payloads(frame, project=7, embedding="m")
    assert set(payloads) == {sha(i) for i in range(4)}
    merged = payloads[sha(1)]
    assert merged["task_id"] == 99 and merged["task_ids"] == [99, 101]
    assert merged["labels"] == ["cat", "lynx"] and merged["label"] is None
    assert merged["flags"] == ["x"] and merged["project"] == 7
    assert payloads[sha(0)] == {
        "sha256": sha(0),
        "task_id": 100,
        "task_ids": [100],
        "labels": ["dog"],
        "label": "dog",
        "split": "train",
        "flags": [],
        "url": "/data/upload/1/0.jpg",
        "project": 7,
        "embedding": "m",
    }


def test_sync_is_incremental_and_removes_vanished(make_index: MakeIndex) -> None:
    index = make_index()
    frame = project_frame()
    vecs, _ = clustered(len(frame), 16, 3)
    vectors = {s: v for s, v in zip(frame["sha256"], vecs, strict=True)}
    del vectors[sha(11)]  # no embedding yet (say, unreadable)
    first = sync_points(index, frame, vectors, project=1, embedding="m")
    assert (first.upserted, first.unchanged, first.missing_vector) == (11, 0, 1)
    again = sync_points(index, frame, vectors, project=1, embedding="m")
    assert (again.upserted, again.unchanged, again.deleted) == (0, 11, 0)

    frame.at[2, "labels"] = ["cat"]  # relabelled in Label Studio
    frame = frame[frame["task_id"] != 105]  # task deleted
    advanced = sync_points(index, frame, vectors, project=1, embedding="m")
    assert (advanced.upserted, advanced.unchanged, advanced.deleted) == (1, 9, 1)
    assert index.count() == 10 and index.retrieve([sha(5)]) == []
    assert index.retrieve([sha(2)])[0].payload["labels"] == ["cat"]
    assert index.count(SearchFilter(labels="cat")) == 5  # 1, 3, 7, 9 and 2 (5 gone, 11 unembedded)

    other = sync_points(
        index,
        project_frame(2).assign(sha256=[sha("a"), sha("b")]),
        {sha("a"): vecs[0], sha("b"): vecs[1]},
        project=2,
    )
    assert other.upserted == 2 and other.deleted == 0  # project 1 untouched
    assert index.count(SearchFilter(project=1)) == 10

    changed_model = sync_points(index, frame, vectors, project=1, embedding="m2")
    assert changed_model.upserted == 10


def test_open_index_defaults_to_edge_under_data_dir(tmp_path: Path) -> None:
    settings = get_settings(data_dir=tmp_path, index={"collection": "c1"})
    index = open_index(settings)
    assert isinstance(index, EdgeIndex) and index.path == tmp_path / "index" / "c1"
    index.upsert([])  # nothing written yet, nothing created
    index.ensure_collection(8)
    assert (tmp_path / "index" / "c1" / "edge_config.json").exists()
    index.close()


def test_an_open_edge_shard_is_refused_with_a_hint(tmp_path: Path) -> None:
    first = EdgeIndex(tmp_path / "shard")
    first.ensure_collection(4)
    with pytest.raises(ServiceError, match="another winnow process"):
        EdgeIndex(tmp_path / "shard")
    first.close()
    assert EdgeIndex(tmp_path / "shard").dim == 4


def test_unreachable_server_is_a_service_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("QDRANT_URL", f"http://127.0.0.1:{port}")
    index = open_index(get_settings())
    assert isinstance(index, ServerIndex)
    with pytest.raises(ServiceError, match=f"Qdrant at http://127.0.0.1:{port}"):
        index.search(np.ones(4, np.float32))


def test_point_ids_are_stable_uuids_of_the_content_hash() -> None:
    assert point_id(sha(1)) == point_id(sha(1)) != point_id(sha(2))
    assert point_id(sha(1)) == "474cfe96-31dc-5c99-a6ed-10873e57c243"  # never changes
    with pytest.raises(ValueError, match="sha256"):
        point_id("ABC")


def test_server_collection_config_follows_settings() -> None:
    from qdrant_client import models as qm

    from winnow.index.server import _collection_config, _search_params

    settings = IndexSettings(
        hnsw_m=32,
        hnsw_ef_construct=200,
        hnsw_ef=96,
        quantization="int8",
        on_disk=True,
        shards=4,
        replicas=2,
    )
    config = _collection_config(1280, settings)
    assert config["vectors_config"] == qm.VectorParams(
        size=1280, distance=qm.Distance.COSINE, on_disk=True
    )
    assert config["hnsw_config"] == qm.HnswConfigDiff(m=32, ef_construct=200, payload_m=0)
    assert config["quantization_config"].scalar.type == qm.ScalarType.INT8
    assert (config["shard_number"], config["replication_factor"]) == (4, 2)
    params = _search_params(settings)
    assert params.hnsw_ef == 96 and params.quantization.rescore is True
    assert _search_params(IndexSettings()) is None


def test_edge_shard_is_built_without_payload_graphs_by_default(tmp_path: Path) -> None:
    """One project and one split cover nearly every point, so per-value graphs cost a
    second and third full HNSW build for nothing (benchmarks/index.py --compare-payload-m)."""
    import json

    from winnow.index.edge import CONFIG_FILE

    for settings, expected in ((IndexSettings(), 0), (IndexSettings(hnsw_payload_m=16), 16)):
        path = tmp_path / f"shard-{expected}"
        index = EdgeIndex(path, settings)
        index.ensure_collection(8)
        index.close()
        assert json.loads((path / CONFIG_FILE).read_text())["hnsw_config"]["payload_m"] == expected
