"""Probes and metrics.

The probes need no key and are ``async`` with nothing that blocks, so they answer on the event
loop even when every worker thread is busy with a slow search. ``/readyz`` says which parts are
missing and whether they failed, never why: the reason is in the server log. Who may read
``/metrics`` is ``serve.metrics_access``, enforced by :mod:`serve.guard`.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from serve.dependencies import EngineDep, MetricsDep
from serve.schemas import Health

router = APIRouter(tags=["ops"])
FAILED = "failed to load; the server log has the reason"


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"description": "index or model not loaded"}},
)
async def readyz(engine: EngineDep) -> JSONResponse:
    missing = engine.missing()
    failed = {name: FAILED for name in missing if name in engine.parts.errors}
    body = Health(
        status="ready" if not missing else "not_ready",
        detail={"missing": missing, "errors": failed},
    )
    headers = {"Retry-After": "5"} if missing else None
    return JSONResponse(body.model_dump(), status_code=503 if missing else 200, headers=headers)


@router.get("/metrics", include_in_schema=False)
def metrics(metrics: MetricsDep) -> Response:
    return metrics.response()
