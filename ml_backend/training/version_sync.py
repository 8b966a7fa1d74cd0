"""Telling Label Studio which model version our backend now answers with.

Label Studio's project ``model_version`` must follow every switch between zero-shot and a
trained model (see :mod:`ml_backend.versions`): otherwise sorting by prediction score
silently shows nothing.
"""

from __future__ import annotations

from typing import Any

from ml_backend.versions import sync_model_version


def sync_backends(
    client: Any,
    project: int,
    version: str,
    *,
    known: set[str],
    auth: tuple[str, str] | None,
) -> None:
    """Rename our backend in Label Studio to ``version``. It is found by a version we served
    (one in ``known``), since Label Studio keeps title == version for it."""
    for backend in client.ml.list(project=project):
        if backend.title in known or backend.model_version in known:
            sync_model_version(client, project, version, url=backend.url, auth=auth)
