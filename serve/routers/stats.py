"""What the index holds: counts per label, split and flag, and sample images per label."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from serve.dependencies import EngineDep, RequireApiKey, SettingsDep
from serve.routers.results import check_k, hits_response
from serve.schemas import SearchResponse, StatsResponse
from winnow.index import Hit

router = APIRouter(tags=["data"], dependencies=[RequireApiKey])


@router.get("/v1/stats", response_model=StatsResponse)
def stats(engine: EngineDep) -> StatsResponse:
    return StatsResponse(**engine.stats())


@router.get("/v1/samples", response_model=SearchResponse)
def samples(
    engine: EngineDep,
    settings: SettingsDep,
    label: str | None = None,
    n: Annotated[int, Query(ge=1)] = 12,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
) -> Response:
    started = time.perf_counter()
    n = check_k(n, settings)
    payloads = engine.samples(label, n, seed)
    hits = [Hit(id=p.get("sha256", ""), score=0.0, payload=p) for p in payloads]
    return hits_response(hits, settings, started)
