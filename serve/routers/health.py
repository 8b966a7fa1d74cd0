"""Probes and metrics: open without an API key, so orchestrators and scrapers need none."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from serve.dependencies import EngineDep, MetricsDep
from serve.schemas import Health

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"description": "index or model not loaded"}},
)
def readyz(engine: EngineDep) -> JSONResponse:
    missing = engine.missing()
    body = Health(
        status="ready" if not missing else "not_ready",
        detail={"missing": missing, "errors": engine.parts.errors},
    )
    headers = {"Retry-After": "5"} if missing else None
    return JSONResponse(body.model_dump(), status_code=503 if missing else 200, headers=headers)


@router.get("/metrics", include_in_schema=False)
def metrics(metrics: MetricsDep) -> Response:
    return metrics.response()
