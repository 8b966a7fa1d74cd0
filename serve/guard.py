"""The first thing every request meets: key, rate and size checks before routing.

FastAPI parses a multipart form before any dependency runs, so a key check in a dependency
comes after the whole upload has been spooled to disk. This pure ASGI middleware (no
``BaseHTTPMiddleware``: no extra task or stream per request) answers from the headers alone:

- 401 for a missing or wrong ``X-API-Key`` on a keyed path, before one body byte is read;
- 429 with ``Retry-After`` when the key's token bucket is empty (:mod:`serve.ratelimit`);
- 413 when ``Content-Length`` is over :func:`body_limit`.

Then the body is counted as it streams (chunked uploads have no length) by Starlette's
``RequestBodyLimitMiddleware``, which the guard wraps around the app: reading stops with a
413 as soon as the limit is passed.

Paths are keyed unless listed public: the probes always, ``/docs`` and ``/openapi.json`` when
``serve.docs_access`` is public, ``/metrics`` per ``serve.metrics_access``.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware

from serve.auth import match_key
from serve.errors import ApiError
from serve.ratelimit import KeyRateLimiter
from winnow.config import ServeSettings
from winnow.http_errors import error_response

PROBES = ("/healthz", "/readyz")
DOC_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
METRICS_PATH = "/metrics"
# multipart boundaries and part headers around the file; a few hundred bytes in practice
MULTIPART_OVERHEAD = 64 * 1024
_LOOPBACK = ("127.", "::1", "::ffff:127.")


def body_limit(settings: ServeSettings) -> int:
    """The most request-body bytes the API reads: one upload and its multipart framing."""
    return settings.max_upload_bytes + MULTIPART_OVERHEAD


class RequestGuard:
    """Refuses from the headers alone (401, 429, 413), then counts the body as it streams."""

    def __init__(self, app: Any, *, settings: ServeSettings, keys: list[bytes]) -> None:
        self.keys, self.max_body = keys, body_limit(settings)
        self.app = RequestBodyLimitMiddleware(app, max_body_size=self.max_body)
        self.limiter = KeyRateLimiter(
            len(keys), settings.rate_limit_per_s, settings.rate_limit_burst
        )
        self.access = {path: "public" for path in PROBES}
        if settings.docs_access == "public":
            self.access.update({path: "public" for path in DOC_PATHS})
        self.access[METRICS_PATH] = settings.metrics_access

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            self._check(scope, headers)
        except ApiError as exc:
            extra = dict(exc.headers or {})
            if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
                extra["Connection"] = "close"  # the body stays unread: do not reuse the socket
            response = error_response(exc.status, exc.kind, exc.message, extra)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check(self, scope: dict, headers: Headers) -> None:
        path = scope["path"]
        access = self.access.get(path, "keyed")
        if access == "loopback" and not _from_loopback(scope):
            raise ApiError(403, "forbidden", f"{path} answers only loopback clients")
        if access == "keyed" and self.keys:
            given = headers.get("x-api-key")
            if given is None and path == METRICS_PATH:  # what Prometheus scrapers can send
                given = _bearer(headers.get("authorization"))
            wait = self.limiter.retry_after(match_key(self.keys, given))
            if wait:
                raise ApiError(
                    429,
                    "rate_limited",
                    f"too many requests with this key; retry in {wait} s",
                    headers={"Retry-After": str(wait)},
                )
        self._check_length(headers.get("content-length"))

    def _check_length(self, value: str | None) -> None:
        if value is None:
            return
        if not value.isdigit():
            raise ApiError(400, "invalid_request", "Content-Length is not a number")
        if int(value) > self.max_body:
            raise ApiError(
                413, "too_large", f"the request body exceeds the {self.max_body}-byte limit"
            )


def _from_loopback(scope: dict) -> bool:
    client = scope.get("client")
    return bool(client) and str(client[0]).startswith(_LOOPBACK)


def _bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None
