"""The vector index: one interface (``VectorIndex``), Qdrant Edge and qdrant-client behind it.

Edge builds go into a new version folder and are published by a pointer file, so a running
API keeps serving and picks the new version up (:mod:`winnow.index.versions`)."""

from winnow.index.base import (
    Hit,
    IndexPoint,
    SearchFilter,
    UnknownPointError,
    VectorIndex,
    as_point_id,
    point_id,
)
from winnow.index.factory import (
    build_index,
    index_location,
    open_index,
    open_live_index,
    server_url,
)
from winnow.index.points import SyncReport, frame_payloads, sync_points

__all__ = [
    "Hit",
    "IndexPoint",
    "SearchFilter",
    "SyncReport",
    "UnknownPointError",
    "VectorIndex",
    "as_point_id",
    "build_index",
    "frame_payloads",
    "index_location",
    "open_index",
    "open_live_index",
    "point_id",
    "server_url",
    "sync_points",
]
