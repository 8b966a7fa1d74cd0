"""API keys in the ``X-API-Key`` header, compared in constant time.

Keys come only from the environment (``WINNOW_SERVE__API_KEYS``, comma-separated), so a
rotated key is one more entry until the old one is dropped. With no keys set the API is open,
which ``winnow serve`` refuses to combine with a non-loopback host.
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


async def require_api_key(request: Request) -> None:
    """FastAPI dependency: 401 unless the header matches one configured key."""
    keys: list[bytes] = request.app.state.api_keys
    if not keys:
        return
    given = await _header(request)
    if given is None:
        raise ApiError(
            401,
            "unauthorized",
            f"missing {API_KEY_HEADER} header",
            headers={"WWW-Authenticate": API_KEY_HEADER},
        )
    # compare against every key so the time taken does not reveal which one nearly matched
    matches = [secrets.compare_digest(given.encode(), key) for key in keys]
    if not any(matches):
        raise ApiError(
            401, "unauthorized", "invalid API key", headers={"WWW-Authenticate": API_KEY_HEADER}
        )
