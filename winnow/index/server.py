"""qdrant-client: a Qdrant server for deployments, or its pure-Python local mode for tests.

The collection is created with the settings that matter at scale: HNSW ``m``/``ef_construct``,
optional int8 scalar quantisation (originals kept for rescoring), on-disk vectors, and shard
and replica counts (server only; local mode accepts and ignores them, and has no payload
indexes, so they are only created on a server).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from qdrant_client import QdrantClient
from qdrant_client import models as qm
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

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

BATCH = 256
SCHEMA = {"keyword": qm.PayloadSchemaType.KEYWORD, "integer": qm.PayloadSchemaType.INTEGER}


class ServerIndex:
    """A VectorIndex over one collection reached through qdrant-client."""

    def __init__(
        self, client: QdrantClient, settings: IndexSettings | None = None, *, local: bool = False
    ) -> None:
        self.client = client
        self.settings = settings or IndexSettings()
        self.collection = self.settings.collection
        self.local = local
        self.where = "qdrant local mode" if local else f"Qdrant at {self.settings.url}"
        self._dim: int | None = None
        # local mode always searches exhaustively and warns about search params
        self._params = None if local else _search_params(self.settings)

    @classmethod
    def connect(cls, url: str, settings: IndexSettings) -> ServerIndex:
        """A Qdrant server over HTTP; the collection's dim is read on first use."""
        key = settings.api_key.get_secret_value() if settings.api_key else None
        client = QdrantClient(
            url=url, api_key=key, timeout=int(settings.timeout_s), check_compatibility=False
        )  # no network I/O until first use
        return cls(client, settings.model_copy(update={"url": url}))

    @classmethod
    def local_mode(cls, path: Path | str, settings: IndexSettings | None = None) -> ServerIndex:
        """qdrant-client's local mode at ``path`` (":memory:" for RAM): tests and small sets."""
        location = {"location": ":memory:"} if str(path) == ":memory:" else {"path": str(path)}
        return cls(QdrantClient(**location), settings, local=True)

    @contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        try:
            yield
        except (UnexpectedResponse, ResponseHandlingException) as exc:
            raise ServiceError(
                f"{self.where}: {action} on {self.collection!r} failed: {exc}"
            ) from exc

    @property
    def dim(self) -> int | None:
        if self._dim is None:
            with self._guard("reading the collection"):
                if self.client.collection_exists(self.collection):
                    params = self.client.get_collection(self.collection).config.params
                    self._dim = int(params.vectors.size)  # type: ignore[union-attr]
        return self._dim

    def ensure_collection(self, dim: int) -> None:
        if self.dim is not None:
            check_dim(self._dim, dim)
            return
        with self._guard("creating the collection"):
            self.client.create_collection(self.collection, **_collection_config(dim, self.settings))
            for name, kind in PAYLOAD_INDEXES.items() if not self.local else ():
                self.client.create_payload_index(self.collection, name, SCHEMA[kind])
        self._dim = dim

    def upsert(self, points: Sequence[IndexPoint]) -> int:
        if not points:
            return 0
        matrix = as_matrix([p.vector for p in points], self.dim)
        self.ensure_collection(matrix.shape[1])
        with self._guard("upsert"):
            for start in range(0, len(points), BATCH):
                batch = [
                    qm.PointStruct(id=p.id, vector=row.tolist(), payload=p.stored_payload())
                    for p, row in zip(
                        points[start : start + BATCH], matrix[start : start + BATCH], strict=True
                    )
                ]
                self.client.upsert(self.collection, batch, wait=True)
        return len(points)

    def delete(self, ids: Sequence[str]) -> int:
        if not ids or self.dim is None:
            return 0
        with self._guard("delete"):
            selector = qm.PointIdsList(points=[as_point_id(i) for i in ids])
            self.client.delete(self.collection, selector, wait=True)
        return len(ids)

    def search(
        self, vector: np.ndarray, k: int = 10, filter: SearchFilter | None = None
    ) -> list[Hit]:
        if self.dim is None:
            return []
        return self._query(as_matrix(vector, self._dim)[0].tolist(), check_k(k), filter)

    def recommend(
        self,
        positive_ids: Sequence[str],
        negative_ids: Sequence[str] = (),
        k: int = 10,
        filter: SearchFilter | None = None,
    ) -> list[Hit]:
        pos, neg = example_points(self, positive_ids, negative_ids)
        query = qm.RecommendQuery(
            recommend=qm.RecommendInput(
                positive=[p.id for p in pos],
                negative=[p.id for p in neg],
                strategy=qm.RecommendStrategy.BEST_SCORE,
            )
        )
        return self._query(query, check_k(k), filter)

    def _query(self, query: object, k: int, filter: SearchFilter | None) -> list[Hit]:
        with self._guard("query"):
            response = self.client.query_points(
                self.collection,
                query=query,
                limit=k,
                with_payload=True,  # type: ignore[arg-type]
                query_filter=_client_filter(filter),
                search_params=self._params,
            )
        return [Hit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points]

    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[IndexPoint]:
        if not ids or self.dim is None:
            return []
        wanted = [as_point_id(i) for i in ids]
        with self._guard("retrieve"):
            records = self.client.retrieve(self.collection, wanted, with_vectors=with_vectors)
        return in_order(wanted, (stored_point(r) for r in records))

    def points(
        self, filter: SearchFilter | None = None, *, with_vectors: bool = False
    ) -> Iterator[IndexPoint]:
        offset = None
        while self.dim is not None:
            with self._guard("scroll"):
                records, offset = self.client.scroll(
                    self.collection,
                    scroll_filter=_client_filter(filter),
                    limit=BATCH,
                    offset=offset,
                    with_payload=True,
                    with_vectors=with_vectors,
                )
            yield from (stored_point(r) for r in records)
            if offset is None:
                return

    def count(self, filter: SearchFilter | None = None) -> int:
        if self.dim is None:
            return 0
        with self._guard("count"):
            result = self.client.count(
                self.collection, count_filter=_client_filter(filter), exact=True
            )
        return int(result.count)

    def optimize(self) -> None:
        """Nothing to do: a server indexes in the background and local mode scans exhaustively."""

    def close(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            self.client.close()


def _collection_config(dim: int, settings: IndexSettings) -> dict[str, object]:
    quantization = (
        qm.ScalarQuantization(
            scalar=qm.ScalarQuantizationConfig(
                type=qm.ScalarType.INT8, quantile=0.99, always_ram=True
            )
        )
        if settings.quantization == "int8"
        else None
    )
    return {
        "vectors_config": qm.VectorParams(
            size=dim, distance=qm.Distance.COSINE, on_disk=settings.on_disk
        ),
        "hnsw_config": qm.HnswConfigDiff(
            m=settings.hnsw_m,
            ef_construct=settings.hnsw_ef_construct,
            payload_m=settings.hnsw_payload_m,
        ),
        "quantization_config": quantization,
        "shard_number": settings.shards,
        "replication_factor": settings.replicas,
    }


def _search_params(settings: IndexSettings) -> qm.SearchParams | None:
    knobs = search_knobs(settings)
    if knobs is None:
        return None
    rescore = qm.QuantizationSearchParams(rescore=True, oversampling=2.0) if knobs[1] else None
    return qm.SearchParams(hnsw_ef=knobs[0], quantization=rescore)


def _client_condition(clause: Clause) -> qm.Condition:
    if clause.kind == "ids":
        return qm.HasIdCondition(has_id=list(clause.values))
    if clause.kind == "empty":
        return qm.IsEmptyCondition(is_empty=qm.PayloadField(key=clause.key))
    return qm.FieldCondition(key=clause.key, match=qm.MatchAny(any=list(clause.values)))


def _client_filter(filter: SearchFilter | None) -> qm.Filter | None:
    parts = filter_parts(filter, _client_condition)
    return None if parts is None else qm.Filter(must=parts[0] or None, must_not=parts[1] or None)
