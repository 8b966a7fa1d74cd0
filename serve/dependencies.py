"""What the routes share, as FastAPI dependencies: the engine, the settings, the thumbnail
cache, the decode slots, the metrics, the API-key check and the query-string search filters.

Routes declare what they use (``engine: EngineDep``) instead of digging it out of
``request.app.state``, so a route reads as its inputs and a test can override any of them.
The lookups are ``async`` (they never block): FastAPI would run a plain ``def`` dependency in a
worker thread, so a probe or an upload would wait for a thread that slow searches hold.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from serve.auth import require_api_key
from serve.engine import Engine
from serve.errors import unavailable
from serve.metrics import ApiMetrics
from serve.schemas import SearchFilters
from serve.slots import WorkSlots
from serve.thumbnails import Thumbnails
from winnow.config import Settings


async def get_engine(request: Request) -> Engine:
    """The app's engine; 503 (retry later) if the app was built without one."""
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        raise unavailable("the search engine")
    return engine


EngineDep = Annotated[Engine, Depends(get_engine)]


async def engine_settings(engine: EngineDep) -> Settings:
    """The settings the engine was built with: one source for every route."""
    return engine.settings


SettingsDep = Annotated[Settings, Depends(engine_settings)]


async def get_thumbnails(request: Request) -> Thumbnails:
    return request.app.state.thumbnails


ThumbnailsDep = Annotated[Thumbnails, Depends(get_thumbnails)]


async def get_work_slots(request: Request) -> WorkSlots:
    return request.app.state.work_slots


WorkSlotsDep = Annotated[WorkSlots, Depends(get_work_slots)]


async def get_metrics(request: Request) -> ApiMetrics:
    return request.app.state.metrics


MetricsDep = Annotated[ApiMetrics, Depends(get_metrics)]


async def query_filters(
    labels: Annotated[list[str] | None, Query()] = None,
    splits: Annotated[list[str] | None, Query()] = None,
    flags: Annotated[list[str] | None, Query()] = None,
    exclude_flagged: bool = False,
) -> SearchFilters:
    """The filters of a GET or multipart search, from repeated query parameters."""
    return SearchFilters(labels=labels, splits=splits, flags=flags, exclude_flagged=exclude_flagged)


QueryFiltersDep = Annotated[SearchFilters, Depends(query_filters)]

# For ``APIRouter(dependencies=[RequireApiKey])``: every route of the router needs a key.
RequireApiKey = Depends(require_api_key)
