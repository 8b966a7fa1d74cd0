"""Prometheus metrics for the API: requests by route and status, and latency histograms.

A registry per app (:class:`winnow.metrics.MetricSet`), so tests can build many apps. Routes are
labelled by their template (``/v1/search/task/{task_id}``), never the raw path, so a client
cannot create unbounded series. A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware``
costs a task and a stream per request, which showed in the search latency.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Response

from winnow.metrics import CONTENT_TYPE, MetricSet

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ApiMetrics:
    def __init__(self) -> None:
        self.metrics = MetricSet("winnow_api")
        self.requests = self.metrics.counter(
            "requests_total", "HTTP requests by route and status.", ("route", "status")
        )
        self.latency = self.metrics.histogram(
            "request_seconds", "HTTP request latency by route.", ("route",), buckets=BUCKETS
        )

    def record(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def response(self) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)


class MetricsMiddleware:
    """Times every HTTP request and counts it under its route template and status."""

    def __init__(self, app: Any, metrics: ApiMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "other")
            self.metrics.record(route, status, time.perf_counter() - started)
