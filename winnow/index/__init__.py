"""The vector index: one interface (``VectorIndex``), Qdrant Edge and qdrant-client behind it."""

from winnow.index.base import (
    Hit,
    IndexPoint,
    SearchFilter,
    UnknownPointError,
    VectorIndex,
    as_point_id,
    point_id,
)
from winnow.index.factory import open_index, server_url
from winnow.index.points import SyncReport, frame_payloads, sync_points

__all__ = [
    "Hit",
    "IndexPoint",
    "SearchFilter",
    "SyncReport",
    "UnknownPointError",
    "VectorIndex",
    "as_point_id",
    "frame_payloads",
    "open_index",
    "point_id",
    "server_url",
    "sync_points",
]
