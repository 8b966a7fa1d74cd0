"""Similarity search: by uploaded image, by indexed task, by text, and by examples.

Index and model calls block (a remote Qdrant can take seconds), so they never run on the
event loop: the routes are plain ``def`` (FastAPI runs them in its threadpool), and the
upload route hands its decode and embedding to the work slots.
"""

from __future__ import annotations

import time
from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from serve.dependencies import (
    EngineDep,
    QueryFiltersDep,
    RequireApiKey,
    SettingsDep,
    WorkSlotsDep,
)
from serve.engine import Engine
from serve.errors import ApiError
from serve.routers.results import check_k, hits_response, search_filter
from serve.schemas import TASK_ID_MAX, RecommendRequest, SearchResponse, TextSearchRequest
from serve.uploads import upload_image
from winnow.config import Settings
from winnow.index import UnknownPointError

router = APIRouter(tags=["search"], dependencies=[RequireApiKey])


@router.post("/v1/search/image", response_model=SearchResponse)
async def search_image(
    engine: EngineDep,
    settings: SettingsDep,
    slots: WorkSlotsDep,
    file: Annotated[UploadFile, File()],
    filters: QueryFiltersDep,
    k: Annotated[int, Query(ge=1)] = 10,
) -> Response:
    started = time.perf_counter()
    k, flt = check_k(k, settings), search_filter(filters, settings)
    vector = await slots.run(_embed_upload, engine, file, settings)
    hits = await run_in_threadpool(engine.search, vector, k, flt)
    return hits_response(hits, settings, started)


def _embed_upload(engine: Engine, file: UploadFile, settings: Settings) -> np.ndarray:
    """Read, decode and embed in one thread hop; the decoded pixels die with it."""
    return engine.embed(upload_image(file, settings).image)


@router.get("/v1/search/task/{task_id}", response_model=SearchResponse)
def search_task(  # def, not async: a slow index must not stall the event loop
    engine: EngineDep,
    settings: SettingsDep,
    task_id: Annotated[int, Path(ge=1, le=TASK_ID_MAX)],
    filters: QueryFiltersDep,
    k: Annotated[int, Query(ge=1)] = 10,
) -> Response:
    started = time.perf_counter()
    k = check_k(k, settings)
    point, vector = engine.task_point(task_id)
    # one extra hit instead of an id-exclusion filter: measured 1 ms faster at 100k points
    found = engine.search(vector, k + 1, search_filter(filters, settings))
    hits = [h for h in found if h.id != point]
    return hits_response(hits[:k], settings, started)


@router.post(
    "/v1/search/text",
    response_model=SearchResponse,
    responses={501: {"description": "no CLIP weights"}},
)
def search_text(engine: EngineDep, settings: SettingsDep, body: TextSearchRequest) -> Response:
    started = time.perf_counter()
    k, flt = check_k(body.k, settings), search_filter(body, settings)
    vector = engine.embed_text(body.text)
    return hits_response(engine.search(vector, k, flt), settings, started)


@router.post("/v1/recommend", response_model=SearchResponse)
def recommend(engine: EngineDep, settings: SettingsDep, body: RecommendRequest) -> Response:
    started = time.perf_counter()
    k, flt = check_k(body.k, settings), search_filter(body, settings)
    positive, negative = engine.point_ids(body.positive), engine.point_ids(body.negative)
    try:
        hits = engine.index().recommend(positive, negative, k=k, filter=flt)
    except UnknownPointError as exc:
        raise ApiError(404, "unknown_task", str(exc)) from exc
    return hits_response(hits, settings, started)
