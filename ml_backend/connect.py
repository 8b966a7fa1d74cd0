"""Connect a running backend to a Label Studio project, with score sorting working at once.

Label Studio takes the project's ``model_version`` from the backend's title, so the backend
is registered under its model version as title (asked from its own ``/setup`` with the
project's label config), and :func:`~ml_backend.versions.sync_model_version` settles the
rest. Connecting twice updates the existing registration instead of adding another.
"""

from __future__ import annotations

from typing import Any

import httpx

from ml_backend.versions import sync_model_version
from winnow.errors import LabelStudioError
from winnow.labelstudio.ml_backends import register_ml_backend


def backend_version(
    backend_url: str, label_config: str, *, auth: tuple[str, str] | None = None
) -> str:
    """The model version the backend at ``backend_url`` gives this label config."""
    try:
        response = httpx.post(
            f"{backend_url.rstrip('/')}/setup",
            json={"schema": label_config},
            auth=auth,
            timeout=60.0,
            trust_env=False,
        )
    except httpx.HTTPError as exc:
        raise LabelStudioError(f"the ML backend at {backend_url} is unreachable: {exc}") from exc
    body = _json(response)
    if response.status_code != 200 or "model_version" not in body:
        reason = body.get("error") or response.text[:500]
        raise LabelStudioError(f"the ML backend at {backend_url} refused /setup: {reason}")
    return str(body["model_version"])


def connect_backend(
    client: Any, project: int, backend_url: str, *, auth: tuple[str, str] | None = None
) -> str:
    """Register ``backend_url`` as the ML backend of ``project``; returns the model version.

    ``client`` is a ``label_studio_sdk.LabelStudio``; ``auth`` the backend's basic auth.
    """
    config = client.projects.get(project).label_config
    version = backend_version(backend_url, config, auth=auth)
    register_ml_backend(client, project, backend_url, title=version, auth=auth)
    sync_model_version(client, project, version, url=backend_url, auth=auth)
    return version


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
