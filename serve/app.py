"""The similarity and classify API: FastAPI over the vector index and the warm models.

``create_app(settings, parts=...)`` builds it; the models and the index load in a background
thread at startup, so ``/healthz`` answers at once and ``/readyz`` says when searches can.
Every input is bounded (upload bytes, pixels, k, example counts) and every failure is a JSON
4xx/5xx without a stack trace (:mod:`serve.errors`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, File, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from serve.auth import configured_keys, require_api_key
from serve.classify import trained_probabilities, zero_shot_probabilities
from serve.engine import Engine, Parts
from serve.errors import ApiError, install_error_handlers
from serve.metrics import ApiMetrics, MetricsMiddleware
from serve.schemas import (
    TASK_ID_MAX,
    ClassifyResponse,
    Health,
    ImageHit,
    RecommendRequest,
    SearchFilters,
    SearchResponse,
    StatsResponse,
    TextSearchRequest,
)
from serve.thumbnails import Thumbnails
from serve.uploads import decode_upload, read_upload
from winnow.config import Settings
from winnow.errors import ConfigError
from winnow.index import Hit, SearchFilter, UnknownPointError


def create_app(settings: Settings, *, parts: Parts | None = None, load: bool = True) -> FastAPI:
    engine = Engine(settings, parts)
    injected_index = engine.parts.index is not None  # the caller owns it and closes it

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load:
            threading.Thread(target=engine.load, name="winnow-serve-load", daemon=True).start()
        yield
        app.state.thumbnails.close()
        if engine.parts.index is not None and not injected_index:
            engine.parts.index.close()

    app = FastAPI(title="Winnow similarity and classify API", version="1", lifespan=lifespan)
    app.state.engine = engine
    app.state.api_keys = configured_keys(settings.serve)
    app.state.metrics = ApiMetrics()
    app.state.thumbnails = Thumbnails(settings)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    if settings.serve.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.serve.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key"],
        )
    install_error_handlers(app)
    _add_probes(app)
    _add_search(app)
    _add_classify(app)
    return app


def _engine(request: Request) -> Engine:
    return request.app.state.engine


def _add_probes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=Health, tags=["ops"])
    def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Health,
        tags=["ops"],
        responses={503: {"description": "index or model not loaded"}},
    )
    def readyz(request: Request) -> JSONResponse:
        engine = _engine(request)
        missing = engine.missing()
        body = Health(
            status="ready" if not missing else "not_ready",
            detail={"missing": missing, "errors": engine.parts.errors},
        )
        headers = {"Retry-After": "5"} if missing else None
        return JSONResponse(body.model_dump(), status_code=503 if missing else 200, headers=headers)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics(request: Request):
        return request.app.state.metrics.response()


def _filters(f: SearchFilters, settings: Settings, **extra: object) -> SearchFilter:
    try:
        return SearchFilter(
            labels=tuple(f.labels or ()),
            splits=tuple(f.splits or ()),
            flags=tuple(f.flags or ()),
            exclude_flagged=f.exclude_flagged,
            project=settings.serve.project,
            **extra,
        )
    except ValueError as exc:
        raise ApiError(422, "invalid_filter", str(exc)) from exc


def _check_k(k: int, settings: Settings) -> int:
    if k > settings.serve.max_k:
        raise ApiError(422, "k_too_large", f"k={k} exceeds the limit {settings.serve.max_k}")
    return k


def _hits(hits: list[Hit], settings: Settings, started: float) -> Response:
    """Serialise once (pydantic-core); returning a Response skips FastAPI's re-validation."""
    base, project = settings.label_studio.url, settings.serve.project
    out = []
    for hit in hits:
        p, task = hit.payload, hit.payload.get("task_id")
        link = f"{base}/projects/{p.get('project') or project}/data?task={task}" if task else None
        out.append(
            ImageHit(
                score=hit.score,
                sha256=p.get("sha256", ""),
                task_id=task,
                labels=p.get("labels") or [],
                split=p.get("split"),
                flags=p.get("flags") or [],
                url=p.get("url"),
                label_studio_url=link,
            )
        )
    body = SearchResponse(hits=out, took_ms=round((time.perf_counter() - started) * 1e3, 3))
    return Response(body.model_dump_json(), media_type="application/json")


def _query_filters(
    labels: list[str] | None = Query(None),
    splits: list[str] | None = Query(None),
    flags: list[str] | None = Query(None),
    exclude_flagged: bool = False,
) -> SearchFilters:
    return SearchFilters(labels=labels, splits=splits, flags=flags, exclude_flagged=exclude_flagged)


def _add_search(app: FastAPI) -> None:
    auth = [Depends(require_api_key)]

    @app.post("/v1/search/image", response_model=SearchResponse, dependencies=auth, tags=["search"])
    async def search_image(
        request: Request,
        file: UploadFile = File(...),
        k: int = Query(10, ge=1),
        filters: SearchFilters = Depends(_query_filters),
    ) -> Response:
        started, engine = time.perf_counter(), _engine(request)
        settings = engine.settings
        k, flt = _check_k(k, settings), _filters(filters, settings)
        decoded = await _upload_image(file, engine)
        vector = await run_in_threadpool(engine.embed, decoded.image)
        hits = await run_in_threadpool(engine.search, vector, k, flt)
        return _hits(hits, settings, started)

    @app.get(
        "/v1/search/task/{task_id}",
        response_model=SearchResponse,
        dependencies=auth,
        tags=["search"],
    )
    async def search_task(  # async: a stored-vector query takes ms; a thread hop costs more
        request: Request,
        task_id: int = Path(ge=1, le=TASK_ID_MAX),
        k: int = Query(10, ge=1),
        filters: SearchFilters = Depends(_query_filters),
    ) -> Response:
        started, engine = time.perf_counter(), _engine(request)
        settings = engine.settings
        k = _check_k(k, settings)
        point, vector = engine.task_point(task_id)
        # one extra hit instead of an id-exclusion filter: measured 1 ms faster at 100k points
        found = engine.search(vector, k + 1, _filters(filters, settings))
        hits = [h for h in found if h.id != point]
        return _hits(hits[:k], settings, started)

    @app.post(
        "/v1/search/text",
        response_model=SearchResponse,
        dependencies=auth,
        tags=["search"],
        responses={501: {"description": "no CLIP weights"}},
    )
    def search_text(request: Request, body: TextSearchRequest) -> Response:
        started, engine = time.perf_counter(), _engine(request)
        k, flt = _check_k(body.k, engine.settings), _filters(body, engine.settings)
        vector = engine.embed_text(body.text)
        return _hits(engine.search(vector, k, flt), engine.settings, started)

    @app.post("/v1/recommend", response_model=SearchResponse, dependencies=auth, tags=["search"])
    def recommend(request: Request, body: RecommendRequest) -> Response:
        started, engine = time.perf_counter(), _engine(request)
        k, flt = _check_k(body.k, engine.settings), _filters(body, engine.settings)
        positive, negative = engine.point_ids(body.positive), engine.point_ids(body.negative)
        try:
            hits = engine.index().recommend(positive, negative, k=k, filter=flt)
        except UnknownPointError as exc:
            raise ApiError(404, "unknown_task", str(exc)) from exc
        return _hits(hits, engine.settings, started)

    @app.get("/v1/stats", response_model=StatsResponse, dependencies=auth, tags=["data"])
    def stats(request: Request) -> StatsResponse:
        return StatsResponse(**_engine(request).stats())

    @app.get("/v1/samples", response_model=SearchResponse, dependencies=auth, tags=["data"])
    def samples(
        request: Request,
        label: str | None = None,
        n: int = Query(12, ge=1),
        seed: int = Query(0, ge=0, le=2**32 - 1),
    ) -> Response:
        started, engine = time.perf_counter(), _engine(request)
        n = _check_k(n, engine.settings)
        payloads = engine.samples(label, n, seed)
        hits = [Hit(id=p.get("sha256", ""), score=0.0, payload=p) for p in payloads]
        return _hits(hits, engine.settings, started)

    @app.get(
        "/v1/tasks/{task_id}/thumbnail",
        dependencies=auth,
        tags=["data"],
        response_class=Response,
        responses={200: {"content": {"image/jpeg": {}}}},
    )
    def thumbnail(request: Request, task_id: int = Path(ge=1, le=TASK_ID_MAX)) -> Response:
        engine = _engine(request)
        payload = engine.payload(task_id)
        body = request.app.state.thumbnails.get(payload.get("url"), payload.get("sha256", ""))
        return Response(
            body, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
        )


async def _upload_image(file: UploadFile, engine: Engine):
    settings = engine.settings
    data = await read_upload(file, max_bytes=settings.serve.max_upload_bytes)
    decoded = await run_in_threadpool(
        decode_upload,
        data,
        file.filename or "upload",
        max_pixels=settings.io.max_pixels,
        min_side=settings.features.thumb_size,
    )
    return decoded


def _add_classify(app: FastAPI) -> None:
    @app.post(
        "/v1/classify",
        response_model=ClassifyResponse,
        dependencies=[Depends(require_api_key)],
        tags=["classify"],
    )
    async def classify(request: Request, file: UploadFile = File(...)) -> ClassifyResponse:
        engine = _engine(request)
        decoded = await _upload_image(file, engine)

        def work() -> ClassifyResponse:
            vector = engine.embed(decoded.image)
            trained = trained_probabilities(engine, vector)
            classes = list(trained.probabilities) if trained else engine.class_names()
            zero_shot = zero_shot_probabilities(engine, decoded.image, classes)
            return ClassifyResponse(
                trained=trained,
                zero_shot=zero_shot,
                width=decoded.width,
                height=decoded.height,
                format=decoded.format,
            )

        try:
            return await run_in_threadpool(work)
        except ConfigError as exc:  # e.g. the index holds vectors of another model
            raise ApiError(409, "model_mismatch", str(exc)) from exc
