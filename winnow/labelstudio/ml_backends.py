"""Register an ML backend with a Label Studio project, the one way every caller does it.

Label Studio 1.23 re-validates a backend on every update and answers 500 to an update that
omits the URL and project, so every update here sends them (and the basic-auth pair).
"""

from __future__ import annotations

from typing import Any


def backend_fields(project: int, url: str, auth: tuple[str, str] | None) -> dict[str, Any]:
    """The fields Label Studio needs on any create or update of an ML backend."""
    fields: dict[str, Any] = {"url": url, "project": project}
    if auth is not None:
        fields.update(auth_method="BASIC_AUTH", basic_auth_user=auth[0], basic_auth_pass=auth[1])
    return fields


def find_ml_backend(client: Any, project: int, url: str) -> Any | None:
    """The project's registration of the backend at ``url``, if any."""
    for backend in client.ml.list(project=project):
        if (backend.url or "").rstrip("/") == url.rstrip("/"):
            return backend
    return None


def register_ml_backend(
    client: Any, project: int, url: str, *, title: str, auth: tuple[str, str] | None = None
) -> Any:
    """Create, or update in place, the project's registration of ``url`` under ``title``.

    ``client`` is a ``label_studio_sdk.LabelStudio``. Label Studio calls the backend's
    /health and /setup here, so a backend that is down or refuses the config fails now.
    """
    fields = {**backend_fields(project, url, auth), "title": title, "is_interactive": False}
    existing = find_ml_backend(client, project, url)
    if existing is not None:
        return client.ml.update(existing.id, **fields)
    return client.ml.create(**fields)
