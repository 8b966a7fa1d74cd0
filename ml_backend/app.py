"""The FastAPI app speaking Label Studio's ML backend protocol.

Thin on purpose: it validates payloads (:mod:`ml_backend.protocol`), hands tasks to
:class:`~ml_backend.service.PredictionService` and shapes the answers. Settings are
injected (``create_app(settings)``), nothing lives at module level, and no response ever
carries a stack trace: errors are ``{"error": ..., "kind": ...}`` JSON, details in the log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.middleware.body_limit import RequestBodyLimitMiddleware

from ml_backend.auth import AuthError, basic_auth, require_auth
from ml_backend.metrics import Metrics
from ml_backend.protocol import (
    HealthResponse,
    PredictRequest,
    PredictResponse,
    SetupRequest,
    SetupResponse,
    TaskPrediction,
    WebhookEvent,
    WebhookResponse,
)
from ml_backend.service import PredictionService
from ml_backend.training.startup import attach as attach_learning
from ml_backend.versions import VersionSyncer, project_id
from winnow.config import LabelStudioSettings, Settings
from winnow.errors import ConfigError, ModelError, WinnowError
from winnow.http_errors import error_response, install_validation_handler
from winnow.imageio.httpfetch import origin_of
from winnow.labelstudio.controls.parse import LabelConfigError
from winnow.store import FeatureStore
from winnow.zeroshot import ZeroShotPredictor, make_predictor

log = logging.getLogger(__name__)
TRAINING_STATES = ("idle", "training", "failed")
_ENDPOINTS = {"/", "/health", "/setup", "/predict", "/webhook", "/metrics"}


@dataclass
class BackendState:
    """Everything a request needs, built once per app (``app.state.backend``)."""

    settings: Settings
    metrics: Metrics = field(default_factory=Metrics)
    service: PredictionService | None = None
    model_error: str | None = None
    training: str = "idle"
    syncer: VersionSyncer | None = None
    # per Label Studio project: the last label config and Label Studio address from /setup
    configs: dict[int, str] = field(default_factory=dict)
    label_studio: dict[int, LabelStudioSettings] = field(default_factory=dict)
    learning: Any = None  # ml_backend.training.active_learning.ActiveLearning once started


def create_app(settings: Settings, *, predictor: ZeroShotPredictor | None = None) -> FastAPI:
    """The backend app. Without ``predictor`` the model named by ``settings.embedding`` is
    loaded at startup; if that fails, ``/setup`` explains why (``/health`` stays UP)."""
    state = BackendState(settings)
    if settings.backend.sync_model_version:
        state.syncer = VersionSyncer(settings.label_studio, auth=basic_auth(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(_start, state, predictor)
        try:
            yield
        finally:
            if state.learning is not None:
                state.learning.close()
            if state.service is not None:
                state.service.close()
                state.service.cache.store.close()

    app = FastAPI(
        title="Winnow ML backend",
        lifespan=lifespan,
        dependencies=[Depends(require_auth)],
        openapi_url=None,  # nothing to browse; keeps the surface small
    )
    app.state.backend = state
    app.middleware("http")(_observe)
    # counted as the body streams, so a huge /predict is cut before it is parsed
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=settings.backend.max_request_bytes)
    _add_error_handlers(app)
    _add_routes(app)
    return app


def _start(state: BackendState, predictor: ZeroShotPredictor | None) -> None:
    """Load the model and open the store; a model that cannot load is reported, not raised."""
    try:
        predictor = predictor or make_predictor(state.settings)
    except (ModelError, ConfigError) as exc:
        state.model_error = str(exc)
        log.error("model unavailable: %s", exc)
    if predictor is not None:
        store = FeatureStore(state.settings.store_path)
        state.service = PredictionService(state.settings, predictor, store, metrics=state.metrics)
        state.learning = attach_learning(state)
    state.metrics.set("winnow_backend_model_ready", 1.0 if state.service else 0.0)
    state.metrics.set_state("winnow_backend_training_state", state.training, TRAINING_STATES)


async def _observe(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Count requests and time them per endpoint (unknown paths pooled as 'other')."""
    started = time.perf_counter()
    try:
        response = await call_next(request)
    except Exception:  # an unexpected bug: log the trace, answer without it
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        response = _error(500, "internal_error", "internal error; the backend log has details")
    endpoint = request.url.path if request.url.path in _ENDPOINTS else "other"
    metrics: Metrics = request.app.state.backend.metrics
    metrics.inc(
        "winnow_backend_requests_total", endpoint=endpoint, status=str(response.status_code)
    )
    metrics.observe(
        "winnow_backend_request_seconds", time.perf_counter() - started, endpoint=endpoint
    )
    return response


_error = error_response  # the shared JSON error shape


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AuthError)
    async def auth_failed(request: Request, exc: AuthError) -> JSONResponse:
        return _error(
            401,
            "unauthorized",
            "HTTP basic auth required",
            {"WWW-Authenticate": 'Basic realm="winnow"'},
        )

    install_validation_handler(app, "request body")

    @app.exception_handler(WinnowError)
    async def winnow_error(request: Request, exc: WinnowError) -> JSONResponse:
        kind = "label_config" if isinstance(exc, LabelConfigError) else "config"
        return _error(400, kind, str(exc))


def _service(state: BackendState) -> PredictionService:
    if state.service is None:
        raise _ModelUnavailable(state.model_error or "the model is still loading")
    return state.service


class _ModelUnavailable(WinnowError):
    pass


class _TooManyTasks(WinnowError):
    """More tasks in one /predict than backend.max_tasks_per_request (answered 413)."""


def _add_routes(app: FastAPI) -> None:
    state: BackendState = app.state.backend

    @app.exception_handler(_ModelUnavailable)
    async def model_unavailable(request: Request, exc: _ModelUnavailable) -> JSONResponse:
        return _error(400, "model_unavailable", f"the model is not available: {exc}")

    @app.exception_handler(_TooManyTasks)
    async def too_many_tasks(request: Request, exc: _TooManyTasks) -> JSONResponse:
        return _error(413, "too_many_tasks", str(exc))

    @app.get("/", response_model_exclude_none=True)
    @app.get("/health", response_model_exclude_none=True)
    def health() -> HealthResponse:
        # Callers may be unauthenticated: reasons stay generic, exception text stays in the log.
        model = "ready" if state.service else "loading"
        if state.service is None and state.model_error:
            model = "unavailable: the model could not be loaded; see the backend log"
        name = state.service.predictor.name if state.service else state.settings.embedding.kind
        zero_shot = f"winnow-zero-shot-{name}"
        extra = (
            state.learning.health(zero_shot)
            if state.learning
            else {"training": state.training, "model_class": zero_shot}
        )
        return HealthResponse(status="UP", model=model, **extra)

    @app.post("/setup")
    def setup(payload: SetupRequest) -> SetupResponse:
        plan = _service(state).plan(payload.label_config)
        project = project_id(payload.project)
        version = state.learning.version(project, plan) if state.learning else plan.version
        if project is not None:
            state.configs[project] = payload.label_config
            hostname = _accepted_hostname(state.settings, payload.hostname)
            _remember_label_studio(state, project, hostname, payload.access_token)
            if state.syncer is not None:
                state.syncer.request(
                    project, version, hostname=hostname, token=payload.access_token
                )
        return SetupResponse(model_version=version, warnings=list(plan.warnings))

    @app.post("/predict", response_model_exclude_none=True)
    def predict(payload: PredictRequest) -> PredictResponse:
        cap = state.settings.backend.max_tasks_per_request
        if len(payload.tasks) > cap:
            raise _TooManyTasks(
                f"{len(payload.tasks)} tasks in one request; at most {cap} "
                "(backend.max_tasks_per_request): select fewer tasks, or run `winnow predict`"
            )
        service = _service(state)
        project = project_id(payload.project)
        config = payload.label_config or state.configs.get(project or -1)
        if not config:
            raise LabelConfigError("the request has no label_config and /setup was not called")
        plan = service.plan(config)
        where = state.label_studio.get(project or -1)
        trained = (
            state.learning.predict(project, plan, payload.tasks, label_studio=where)
            if (state.learning)
            else None
        )
        version, outcomes = trained or (
            plan.version,
            service.predict(payload.tasks, plan, label_studio=where),
        )
        return PredictResponse(
            results=[
                TaskPrediction(model_version=version, result=o.result, score=o.score, error=o.error)
                for o in outcomes
            ]
        )

    @app.post("/webhook")
    def webhook(event: WebhookEvent) -> WebhookResponse:
        state.metrics.inc("winnow_backend_webhook_events_total", action=event.action)
        log.info("webhook %s for project %s", event.action, (event.project or {}).get("id"))
        training = (
            state.learning.on_webhook(event.action, event.model_dump())
            if state.learning
            else state.training
        )
        return WebhookResponse(action=event.action, training=training)

    @app.get("/metrics")
    def metrics() -> PlainTextResponse:
        return PlainTextResponse(state.metrics.render(), media_type="text/plain; version=0.0.4")


def _accepted_hostname(settings: Settings, hostname: str | None) -> str | None:
    """The operator's URL for ``hostname`` if it names the configured Label Studio or one
    listed in ``backend.setup_hostnames``; else None. Anyone who can reach /setup can send
    one, so an unknown one never becomes a place that images, annotations or tokens go to."""
    if not hostname:
        return None
    origin = origin_of(hostname.strip())
    for url in (settings.label_studio.url, *settings.backend.setup_hostnames):
        if origin is not None and origin_of(url) == origin:
            return url
    log.warning(
        "/setup named Label Studio at %r, which is neither label_studio.url nor in "
        "backend.setup_hostnames; ignored",
        hostname,
    )
    return None


def _remember_label_studio(
    state: BackendState, project: int, hostname: str | None, token: str | None
) -> None:
    """Without a configured API key, read this project's images with the token /setup gave,
    from an accepted hostname (:func:`_accepted_hostname`)."""
    if state.settings.label_studio.api_key is not None or not token or not hostname:
        return
    try:
        state.label_studio[project] = LabelStudioSettings(url=hostname, api_key=token)
    except ValueError:
        log.warning("project %s: ignoring bad Label Studio hostname %r", project, hostname)
