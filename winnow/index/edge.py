"""Qdrant Edge: Qdrant's engine in-process, one shard directory per collection.

The default backend: no server, real HNSW, payload indexes and a write-ahead log. A shard
directory can be open in one process at a time (the WAL is locked), so `winnow index` builds
into a new directory and publishes it while `winnow serve` keeps serving the old one
(:mod:`winnow.index.versions`); several writers at once need a Qdrant server.
Recommend is Qdrant's best-score strategy; Edge takes example vectors, not ids, so the
examples are retrieved first and excluded from the results, as the server does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as qe

from winnow.config import IndexSettings
from winnow.errors import ServiceError
from winnow.index.base import (
    PAYLOAD_INDEXES,
    Clause,
    Hit,
    IndexPoint,
    SearchFilter,
    as_matrix,
    as_point_id,
    check_dim,
    check_k,
    example_points,
    filter_parts,
    in_order,
    search_knobs,
    stored_point,
)

CONFIG_FILE = "edge_config.json"  # written by Qdrant Edge next to its segments
BATCH = 1024
SCHEMA = {"keyword": qe.PayloadSchemaType.Keyword, "integer": qe.PayloadSchemaType.Integer}


class EdgeIndex:
    """A VectorIndex over one Qdrant Edge shard at ``path``."""

    def __init__(self, path: Path, settings: IndexSettings | None = None) -> None:
        self.path = Path(path)
        self.settings = settings or IndexSettings()
        self._lock = threading.RLock()
        self._shard: qe.EdgeShard | None = None
        self._dim: int | None = None
        self._params = _search_params(self.settings)
        if (self.path / CONFIG_FILE).exists():
            self._shard = self._call("open", qe.EdgeShard.load, str(self.path))
            self._dim = int(
                json.loads((self.path / CONFIG_FILE).read_text())["vectors"][""]["size"]
            )

    @property
    def dim(self) -> int | None:
        return self._dim

    def _call(self, action: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # qdrant_edge raises bare Exception for every failure
            hint = " (is another winnow process using it?)" if "WouldBlock" in str(exc) else ""
            raise ServiceError(f"Qdrant Edge {action} at {self.path} failed{hint}: {exc}") from exc

    def _update(self, operation: qe.UpdateOperation) -> None:
        with self._lock:
            self._call("update", self._shard.update, operation)  # type: ignore[union-attr]

    def ensure_collection(self, dim: int) -> None:
        with self._lock:
            if self._shard is not None:
                check_dim(self._dim, dim)
                return
            config = _edge_config(dim, self.settings)
            self._shard = self._call("create", qe.EdgeShard.create, str(self.path), config)
            self._dim = dim
            for name, kind in PAYLOAD_INDEXES.items():
                self._update(qe.UpdateOperation.create_field_index(name, SCHEMA[kind]))

    def upsert(self, points: Sequence[IndexPoint]) -> int:
        if not points:
            return 0
        matrix = as_matrix([p.vector for p in points], self._dim)
        self.ensure_collection(matrix.shape[1])
        for start in range(0, len(points), BATCH):
            rows = zip(points[start : start + BATCH], matrix[start : start + BATCH], strict=True)
            batch = [qe.Point(p.id, row.tolist(), p.stored_payload()) for p, row in rows]
            self._update(qe.UpdateOperation.upsert_points(batch))
        return len(points)

    def delete(self, ids: Sequence[str]) -> int:
        if not ids or self._shard is None:
            return 0
        self._update(qe.UpdateOperation.delete_points([as_point_id(i) for i in ids]))
        return len(ids)

    def search(
        self, vector: np.ndarray, k: int = 10, filter: SearchFilter | None = None
    ) -> list[Hit]:
        query = as_matrix(vector, self._dim)[0].tolist()
        return self._query(qe.Query.Nearest(query), check_k(k), filter)

    def recommend(
        self,
        positive_ids: Sequence[str],
        negative_ids: Sequence[str] = (),
        k: int = 10,
        filter: SearchFilter | None = None,
    ) -> list[Hit]:
        pos, neg = example_points(self, positive_ids, negative_ids, with_vectors=True)
        query = qe.RecommendQuery(
            [p.vector.tolist() for p in pos],  # type: ignore[union-attr]
            [p.vector.tolist() for p in neg],
        )  # type: ignore[union-attr]
        base = filter or SearchFilter()
        seen = (*base.exclude_ids, *(p.id for p in pos + neg))
        return self._query(
            qe.Query.RecommendBestScore(query), check_k(k), replace(base, exclude_ids=seen)
        )

    def _query(self, query: qe.Query, k: int, filter: SearchFilter | None) -> list[Hit]:
        if self._shard is None:
            return []
        request = qe.QueryRequest(
            limit=k,
            query=query,
            with_payload=True,
            filter=_edge_filter(filter),
            params=self._params,
        )
        with self._lock:
            scored = self._call("query", self._shard.query, request)
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in scored]

    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[IndexPoint]:
        if self._shard is None or not ids:
            return []
        wanted = [as_point_id(i) for i in ids]
        with self._lock:
            records = self._call("retrieve", self._shard.retrieve, wanted, True, with_vectors)
        return in_order(wanted, (stored_point(r) for r in records))

    def points(
        self, filter: SearchFilter | None = None, *, with_vectors: bool = False
    ) -> Iterator[IndexPoint]:
        offset = None
        while self._shard is not None:
            request = qe.ScrollRequest(
                offset=offset,
                limit=BATCH,
                filter=_edge_filter(filter),
                with_payload=True,
                with_vector=with_vectors,
            )
            with self._lock:
                records, offset = self._call("scroll", self._shard.scroll, request)
            yield from (stored_point(r) for r in records)
            if offset is None:
                return

    def count(self, filter: SearchFilter | None = None) -> int:
        if self._shard is None:
            return 0
        request = qe.CountRequest(exact=True, filter=_edge_filter(filter))
        with self._lock:
            return int(self._call("count", self._shard.count, request))

    def optimize(self) -> None:
        if self._shard is not None:
            with self._lock:
                self._call("optimize", self._shard.optimize)

    def close(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._call("flush", self._shard.flush)
                self._shard.close()
                self._shard = None


def _edge_config(dim: int, settings: IndexSettings) -> qe.EdgeConfig:
    quantization = (
        qe.ScalarQuantizationConfig(qe.ScalarType.Int8, quantile=0.99, always_ram=True)
        if settings.quantization == "int8"
        else None
    )
    hnsw = qe.HnswIndexConfig(
        m=settings.hnsw_m,
        ef_construct=settings.hnsw_ef_construct,
        full_scan_threshold=10_000,
        payload_m=settings.hnsw_payload_m,
    )
    vectors = qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine, on_disk=settings.on_disk)
    return qe.EdgeConfig(vectors=vectors, hnsw_config=hnsw, quantization_config=quantization)


def _search_params(settings: IndexSettings) -> qe.SearchParams | None:
    knobs = search_knobs(settings)
    if knobs is None:
        return None
    rescore = qe.QuantizationSearchParams(rescore=True, oversampling=2.0) if knobs[1] else None
    return qe.SearchParams(hnsw_ef=knobs[0], quantization=rescore)


def _edge_condition(clause: Clause) -> Any:
    if clause.kind == "ids":
        return qe.HasIdCondition(set(clause.values))
    if clause.kind == "empty":
        return qe.IsEmptyCondition(clause.key)
    return qe.FieldCondition(key=clause.key, match=qe.MatchAny(list(clause.values)))


def _edge_filter(filter: SearchFilter | None) -> qe.Filter | None:
    parts = filter_parts(filter, _edge_condition)
    return None if parts is None else qe.Filter(must=parts[0] or None, must_not=parts[1] or None)
