"""The similarity and classify API: FastAPI over the vector index and the warm models.

``create_app(settings, parts=...)`` builds it; the models and the index load in a background
thread at startup, so ``/healthz`` answers at once and ``/readyz`` says when searches can.
Every input is bounded (body bytes, pixels, k, example counts, requests per key, decodes at
once) and every failure is a JSON 4xx/5xx without a stack trace (:mod:`serve.errors`). Keys,
rates and body sizes are checked before routing (:mod:`serve.guard`). The routes live in
:mod:`serve.routers`.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from serve.auth import configured_keys
from serve.engine import Engine, Parts
from serve.errors import install_error_handlers
from serve.guard import RequestGuard
from serve.metrics import ApiMetrics, MetricsMiddleware
from serve.routers import classify, health, media, search, stats
from serve.slots import WorkSlots
from serve.thumbnails import Thumbnails
from winnow.config import Settings

ROUTERS = (health.router, search.router, stats.router, media.router, classify.router)


def create_app(settings: Settings, *, parts: Parts | None = None, load: bool = True) -> FastAPI:
    """The API over ``parts`` (loaded in the background when ``load``; injected ones kept)."""
    engine, s = Engine(settings, parts), settings.serve
    docs = s.docs_access != "off"
    app = FastAPI(
        title="Winnow similarity and classify API",
        version="1",
        lifespan=_lifespan(engine, load=load),
        form_limits={"max_files": 1, "max_fields": 16},
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.engine = engine
    app.state.api_keys = configured_keys(s)
    app.state.metrics = ApiMetrics()
    app.state.thumbnails = Thumbnails(settings)
    app.state.work_slots = WorkSlots(s.decode_concurrency)
    # the last added runs first: metrics see every answer, CORS answers preflights (which
    # carry no key) and decorates the guard's refusals, the guard runs before routing
    app.add_middleware(RequestGuard, settings=s, keys=app.state.api_keys)
    if s.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=s.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key"],
        )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


def _lifespan(
    engine: Engine, *, load: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start loading at startup; at shutdown close what this app opened, not the caller's."""
    injected_index = engine.parts.index is not None  # the caller owns it and closes it

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load:
            threading.Thread(target=engine.load, name="winnow-serve-load", daemon=True).start()
        yield
        app.state.thumbnails.close()
        if engine.parts.index is not None and not injected_index:
            engine.parts.index.close()

    return lifespan
