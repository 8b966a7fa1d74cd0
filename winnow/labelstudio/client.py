"""Build a label-studio-sdk client from settings, failing early and clearly."""

from __future__ import annotations

import httpx
from label_studio_sdk import LabelStudio

from winnow.config import LabelStudioSettings
from winnow.errors import ConfigError, LabelStudioError
from winnow.labelstudio.retry import RetryTransport


def connect(
    settings: LabelStudioSettings,
    *,
    check: bool = True,
    timeout_s: float = 60.0,
    retries: int | None = None,
) -> LabelStudio:
    """A ``LabelStudio`` SDK client for ``settings.url``; with ``check``, prove the key works.

    Every call, the check included, goes through :class:`RetryTransport` (``retries``
    defaults to ``settings.retries``); the SDK's own retries are off so the two never
    multiply."""
    if settings.api_key is None:
        raise ConfigError(
            "no Label Studio API key: set WINNOW_LABEL_STUDIO__API_KEY "
            "(Account & Settings > Access Token in Label Studio)"
        )
    key = settings.api_key.get_secret_value()
    transport = RetryTransport(settings.retries if retries is None else retries)
    http = httpx.Client(transport=transport, timeout=timeout_s, follow_redirects=True)
    if check:
        try:
            _check(http, settings.url, key)
        except LabelStudioError:
            http.close()
            raise
    return LabelStudio(base_url=settings.url, api_key=key, max_retries=0, httpx_client=http)


def _check(http: httpx.Client, url: str, key: str) -> None:
    try:
        response = http.get(
            f"{url}/api/projects",
            params={"page_size": 1},
            headers={"Authorization": f"Token {key}"},
            timeout=10.0,
        )
    except httpx.HTTPError as exc:
        raise LabelStudioError(f"Label Studio at {url} is unreachable: {exc}") from exc
    if response.status_code in (401, 403):
        raise LabelStudioError(
            f"Label Studio at {url} refused the API key (HTTP {response.status_code})"
        )
    if response.status_code >= 400:
        raise LabelStudioError(f"Label Studio at {url} answered HTTP {response.status_code}")
