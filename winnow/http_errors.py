"""The JSON error shape every Winnow HTTP service answers with: ``{"error", "kind"}``.

Shared by the ML backend and the API, so a client parses one format and no service ever
returns a stack trace or FastAPI's default validation body.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


def error_response(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message, "kind": kind}, status_code=status, headers=headers)


def install_validation_handler(app: FastAPI, what: str = "request") -> None:
    """422 with the first five problems, as ``field.path: message``."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]
        )
        return error_response(422, "invalid_request", f"invalid {what}: {problems}")
