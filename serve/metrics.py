"""Prometheus metrics for the API: requests by route and status, and latency histograms.

A registry per app (not the process-global one), so tests can build many apps. Routes are
labelled by their template (``/v1/search/task/{task_id}``), never the raw path, so a client
cannot create unbounded series.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("winnow_api_requests", "HTTP requests by route and status.",
                                ["route", "status"], registry=self.registry)  # fmt: skip
        self.latency = Histogram("winnow_api_request_seconds", "HTTP request latency by route.",
                                 ["route"], buckets=BUCKETS, registry=self.registry)  # fmt: skip

    async def observe(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "other")
        self.requests.labels(route, str(response.status_code)).inc()
        self.latency.labels(route).observe(time.perf_counter() - started)
        return response

    def response(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
