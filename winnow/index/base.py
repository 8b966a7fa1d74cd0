"""The vector index interface: points keyed by image content, searched with payload filters.

One ``VectorIndex`` protocol, two implementations chosen by settings (see ``factory``): the
embedded Qdrant Edge shard and qdrant-client (a Qdrant server, or its local mode in tests).
Callers receive an index as a parameter, so tests and services can swap the engine.

A point's id is derived from the image's sha256, so re-indexing the same bytes hits the same
point (idempotent upserts) and two tasks holding the same image share one point. Every method
that takes ids accepts either point ids (UUID strings) or sha256 hex digests.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

import numpy as np

from winnow.config import IndexSettings
from winnow.errors import ConfigError, WinnowError

T = TypeVar("T")
# Fixed namespace: changing it would orphan every stored point.
POINT_NAMESPACE = uuid.UUID("6f0c6a2e-3b1d-5c55-9e57-77696e6e6f77")
# Payload fields SearchFilter uses; each backend creates an index on exactly these.
PAYLOAD_INDEXES = {
    "labels": "keyword",
    "split": "keyword",
    "flags": "keyword",
    "task_ids": "integer",
    "project": "integer",
}


class UnknownPointError(WinnowError, LookupError):
    """An id passed as an example (recommend) is not in the index."""


def point_id(sha256: str) -> str:
    """The point id for an image: a UUID5 of its sha256, stable across runs and backends."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a lowercase sha256 hex digest: {sha256!r}")
    return str(uuid.uuid5(POINT_NAMESPACE, sha256))


def as_point_id(key: str) -> str:
    """Accept a point id or a sha256 and return the point id."""
    if len(key) == 64:
        return point_id(key)
    try:
        return str(uuid.UUID(key))
    except ValueError:
        raise ValueError(f"{key!r} is neither a point id (UUID) nor a sha256") from None


@dataclass(frozen=True)
class IndexPoint:
    """One image in the index. ``vector`` is None when a read did not ask for vectors."""

    sha256: str
    vector: np.ndarray | None
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return point_id(self.sha256)

    def stored_payload(self) -> dict[str, Any]:
        """The payload as written: always carries the sha256, which keys the point."""
        return {**self.payload, "sha256": self.sha256}


@dataclass(frozen=True)
class Hit:
    """A search result: point id, similarity (cosine, higher is closer) and payload."""

    id: str
    score: float
    payload: dict[str, Any]

    @property
    def sha256(self) -> str | None:
        return self.payload.get("sha256")


def _strings(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class Clause:
    """One backend-neutral filter condition: ``key`` matches any of ``values`` (or is empty)."""

    kind: Literal["any", "empty", "ids"]
    key: str
    values: tuple[Any, ...] = ()
    negate: bool = False


@dataclass(frozen=True)
class SearchFilter:
    """Restrict a search or count. Fields combine with AND; values within a field with OR.

    ``labels``/``flags`` match if the point has any of the given values; ``exclude_flagged``
    keeps only points without open findings; ``exclude_ids`` takes point ids or sha256s.
    """

    labels: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    exclude_flagged: bool = False
    task_ids: tuple[int, ...] = ()
    project: int | None = None
    exclude_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("labels", "splits", "flags", "exclude_ids"):
            object.__setattr__(self, name, _strings(getattr(self, name)))
        object.__setattr__(self, "task_ids", tuple(int(t) for t in self.task_ids))
        if self.exclude_flagged and self.flags:
            raise ValueError("flags and exclude_flagged contradict each other; pass one")

    def clauses(self) -> list[Clause]:
        """The filter as backend-neutral clauses (each backend maps them to its classes)."""
        out = [
            Clause("any", key, values)
            for key, values in (
                ("labels", self.labels),
                ("split", self.splits),
                ("flags", self.flags),
                ("task_ids", self.task_ids),
            )
            if values
        ]
        if self.project is not None:
            out.append(Clause("any", "project", (int(self.project),)))
        if self.exclude_flagged:
            out.append(Clause("empty", "flags"))
        if self.exclude_ids:
            ids = tuple(as_point_id(i) for i in self.exclude_ids)
            out.append(Clause("ids", "", ids, negate=True))
        return out


def as_matrix(vectors: np.ndarray | Sequence[Sequence[float]], dim: int | None) -> np.ndarray:
    """Validate vectors as finite float32 rows of the collection's dimension."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError(f"vectors must be 1-D or 2-D, got shape {matrix.shape}")
    if dim is not None and matrix.shape[1] != dim:
        raise ConfigError(
            f"vector dimension mismatch: the index holds {dim}-d vectors, got "
            f"{matrix.shape[1]}-d (was the embedding model changed? index into a new "
            "collection with index.collection, or delete the old one)"
        )
    if not np.isfinite(matrix).all():
        raise ValueError("vectors contain NaN or infinity")
    return matrix


@runtime_checkable
class VectorIndex(Protocol):
    """What the CLI, the export and the similarity API need from a vector index."""

    @property
    def dim(self) -> int | None:
        """Vector dimension of the collection, or None if it does not exist yet."""

    def ensure_collection(self, dim: int) -> None:
        """Create the collection (with payload indexes) or check an existing one's dim."""

    def upsert(self, points: Sequence[IndexPoint]) -> int:
        """Insert or replace points (by sha256); creates the collection on first use."""

    def delete(self, ids: Sequence[str]) -> int:
        """Remove points by id or sha256; unknown ids are ignored. Returns how many asked."""

    def search(
        self, vector: np.ndarray, k: int = 10, filter: SearchFilter | None = None
    ) -> list[Hit]:
        """The k points most similar to ``vector`` (cosine), best first."""

    def recommend(
        self,
        positive_ids: Sequence[str],
        negative_ids: Sequence[str] = (),
        k: int = 10,
        filter: SearchFilter | None = None,
    ) -> list[Hit]:
        """Points like the positives and unlike the negatives; the examples are excluded."""

    def retrieve(self, ids: Sequence[str], with_vectors: bool = False) -> list[IndexPoint]:
        """The stored points for these ids, in the given order; missing ids are skipped."""

    def points(
        self, filter: SearchFilter | None = None, *, with_vectors: bool = False
    ) -> Iterator[IndexPoint]:
        """Every point matching ``filter`` (for diffs and exports), in no particular order."""

    def count(self, filter: SearchFilter | None = None) -> int:
        """Exact number of points matching ``filter``."""

    def optimize(self) -> None:
        """Build pending HNSW graphs now rather than at the first slow query."""

    def close(self) -> None:
        """Flush and release files or connections; the index is unusable afterwards."""


def check_dim(stored: int | None, dim: int) -> None:
    """Raise ConfigError if a collection of ``stored`` dims cannot take ``dim``-d vectors."""
    as_matrix(np.zeros((1, dim), np.float32), stored)


def stored_point(record: Any) -> IndexPoint:
    """An engine's record (``.payload``, ``.vector``) as an IndexPoint."""
    payload = dict(record.payload or {})
    vector = None if record.vector is None else np.asarray(record.vector, dtype=np.float32)
    return IndexPoint(payload.get("sha256", ""), vector, payload)


def in_order(ids: Sequence[str], found: Iterable[IndexPoint]) -> list[IndexPoint]:
    """``found`` in the order of ``ids`` (point ids or sha256s), missing ones skipped."""
    by_id = {p.id: p for p in found}
    return [by_id[i] for i in (as_point_id(k) for k in ids) if i in by_id]


def example_points(
    index: VectorIndex,
    positive_ids: Sequence[str],
    negative_ids: Sequence[str],
    *,
    with_vectors: bool = False,
) -> tuple[list[IndexPoint], list[IndexPoint]]:
    """The stored recommend examples; UnknownPointError names any that are not indexed."""
    if not positive_ids:
        raise ValueError("recommend needs at least one positive id")
    wanted = [as_point_id(i) for i in [*positive_ids, *negative_ids]]
    found = {p.id: p for p in index.retrieve(wanted, with_vectors=with_vectors)}
    missing = [i for i in wanted if i not in found]
    if missing:
        raise UnknownPointError(f"not in the index: {', '.join(missing)}")
    examples = [found[i] for i in wanted]
    return examples[: len(positive_ids)], examples[len(positive_ids) :]


def filter_parts(
    filter: SearchFilter | None, condition: Callable[[Clause], T]
) -> tuple[list[T], list[T]] | None:
    """``(must, must_not)`` in an engine's condition type, or None for no filter."""
    clauses = filter.clauses() if filter else []
    if not clauses:
        return None
    must = [condition(c) for c in clauses if not c.negate]
    return must, [condition(c) for c in clauses if c.negate]


def search_knobs(settings: IndexSettings) -> tuple[int | None, bool] | None:
    """``(hnsw_ef, rescore with originals)`` when settings change search, else None."""
    if settings.hnsw_ef is None and settings.quantization == "none":
        return None
    return settings.hnsw_ef, settings.quantization == "int8"


def check_k(k: int) -> int:
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)
