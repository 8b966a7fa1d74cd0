"""Every failure the API reports, as ``{"error": ..., "kind": ...}`` JSON with a 4xx/5xx.

Handlers are installed once (:func:`install_error_handlers`); no response ever carries a
stack trace. An unexpected exception is logged with its trace and answered with a generic
500, so a client learns nothing about the server's internals.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from winnow.http_errors import error_response, install_validation_handler

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the client caused or must wait out; ``status`` says which."""

    def __init__(
        self, status: int, kind: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.headers = status, kind, message, headers


def unavailable(what: str, retry_after_s: int = 5) -> ApiError:
    """503 with Retry-After: the index or a model is loading or down; the client may retry."""
    return ApiError(
        503,
        "unavailable",
        f"{what} is not available yet; retry later",
        headers={"Retry-After": str(retry_after_s)},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.kind, exc.message, exc.headers)

    install_validation_handler(app)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kinds = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        kind = kinds.get(exc.status_code, "http_error")
        # Starlette's body limit says "Content Too Large"; say which limit
        message = "the request body exceeds the upload limit" if kind == "too_large" else None
        return error_response(exc.status_code, kind, message or str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal error; the server log has details")
