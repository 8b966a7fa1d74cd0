"""The steps every search route shares: bound ``k``, build the index filter, serialise hits."""

from __future__ import annotations

import time

from fastapi.responses import Response

from serve.errors import ApiError
from serve.schemas import ImageHit, SearchFilters, SearchResponse
from winnow.config import Settings
from winnow.index import Hit, SearchFilter


def search_filter(f: SearchFilters, settings: Settings, **extra: object) -> SearchFilter:
    """The request's filters, scoped to the served project; 422 when they contradict."""
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


def check_k(k: int, settings: Settings) -> int:
    """422 above ``serve.max_k``: the limit is a setting, so the schema cannot carry it."""
    if k > settings.serve.max_k:
        raise ApiError(422, "k_too_large", f"k={k} exceeds the limit {settings.serve.max_k}")
    return k


def hits_response(hits: list[Hit], settings: Settings, started: float) -> Response:
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
