"""API keys in the ``X-API-Key`` header, compared in constant time.

Keys come only from the environment (``WINNOW_SERVE__API_KEYS``, comma-separated), so a
rotated key is one more entry until the old one is dropped. With no keys set the API is open,
which ``winnow serve`` refuses to combine with a non-loopback host.

The check runs twice with one function: first in :class:`serve.guard.RequestGuard`, before
routing and before any body byte is read, then as the routers' dependency, which also puts
the key scheme into the OpenAPI document.
"""

from __future__ import annotations

import secrets

from fastapi import Request
from fastapi.security import APIKeyHeader

from serve.errors import ApiError
from winnow.config import ServeSettings

API_KEY_HEADER = "X-API-Key"
_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)


def configured_keys(settings: ServeSettings) -> list[bytes]:
    if settings.api_keys is None:
        return []
    keys = [k.strip() for k in settings.api_keys.get_secret_value().split(",")]
    return [k.encode() for k in keys if k]


def match_key(keys: list[bytes], given: str | None) -> int:
    """The index of the key ``given`` matches; ApiError 401 when it is missing or matches none.

    Every key is compared, so the time taken does not reveal which one nearly matched.
    """
    if given is None:
        raise _unauthorized(f"missing {API_KEY_HEADER} header")
    matches = [secrets.compare_digest(given.encode(), key) for key in keys]
    if not any(matches):
        raise _unauthorized("invalid API key")
    return matches.index(True)


async def require_api_key(request: Request) -> None:
    """FastAPI dependency: 401 unless the header matches one configured key."""
    keys: list[bytes] = request.app.state.api_keys
    if keys:
        match_key(keys, await _header(request))


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": API_KEY_HEADER})
