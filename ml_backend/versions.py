"""Keeping Label Studio's ``model_version`` equal to ours.

Versions themselves come from :func:`winnow.zeroshot.version.model_version` and the model
registry; this module only makes Label Studio agree with them.

Label Studio 1.23 (default feature flags) sorts and filters the Data Manager by
``predictions_score`` only over predictions whose ``model_version`` equals the project's
``model_version``, and sets that to the ML backend's *title* when a backend is connected.
:func:`sync_model_version` renames our backend's title to the version (Label Studio then
moves the project's ``model_version`` along, see ``MLBackend.save``) and sets the project's
``model_version`` if it still differs. It is idempotent and only touches backends that
serve this version (Label Studio stores what our ``/setup`` returned) or run at ``url``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from winnow.config import LabelStudioSettings
from winnow.labelstudio.client import connect
from winnow.labelstudio.ml_backends import backend_fields

log = logging.getLogger(__name__)


def project_id(project: str | int | None) -> int | None:
    """Label Studio sends the project as ``"<id>.<created timestamp>"``."""
    if project is None:
        return None
    head = str(project).split(".", 1)[0]
    return int(head) if head.isdigit() else None


@dataclass(frozen=True)
class SyncOutcome:
    renamed: tuple[int, ...]  # ML backend ids whose title was set to the version
    project_updated: bool
    in_sync: bool  # project.model_version == version after the call


def sync_model_version(
    client: Any,
    project: int,
    version: str,
    *,
    url: str | None = None,
    auth: tuple[str, str] | None = None,
    has_predictions: bool = False,
) -> SyncOutcome:
    """Make Label Studio's project ``model_version`` equal ``version`` (see module doc).

    ``client`` is a ``label_studio_sdk.LabelStudio``. ``auth``: our basic-auth user and
    password (Label Studio re-checks the backend on every update, and a partial update
    without the URL and credentials fails there). ``has_predictions``: the caller knows
    predictions with this version exist (Label Studio then accepts it without a backend).
    Raises what the SDK raises.
    """
    renamed = []
    for backend in client.ml.list(project=project):
        ours = backend.model_version == version or (
            url is not None and (backend.url or "").rstrip("/") == url.rstrip("/")
        )
        if ours and backend.title != version:
            fields = backend_fields(project, backend.url, auth)
            client.ml.update(backend.id, title=version, **fields)
            renamed.append(backend.id)
    current = client.projects.get(project).model_version
    updated = False
    if current != version and (renamed or has_predictions or _has_titled(client, project, version)):
        client.projects.update(project, model_version=version)
        current, updated = client.projects.get(project).model_version, True
    if renamed or updated:
        log.info(
            "project %s: model_version is now %r (renamed backends %s)", project, current, renamed
        )
    return SyncOutcome(tuple(renamed), updated, current == version)


def _has_titled(client: Any, project: int, version: str) -> bool:
    """Label Studio accepts a project model_version only if a backend title or a
    prediction carries it; check the backend side (predictions are the caller's)."""
    return any(b.title == version for b in client.ml.list(project=project))


class VersionSyncer:
    """Runs :func:`sync_model_version` in the background after Label Studio calls ``/setup``.

    ``/setup`` must answer within Label Studio's 3 s, and the connecting request sets the
    project's ``model_version`` from the title only after ``/setup`` returns, so the sync
    waits ``delay_s`` first. Every later ``/setup`` re-checks until one sync is verified
    (renaming the backend makes Label Studio call ``/setup`` again; the done set stops that
    loop). Failures are logged, never raised: sorting is a convenience, predictions are not
    blocked by it.
    """

    def __init__(
        self,
        settings: LabelStudioSettings,
        *,
        auth: tuple[str, str] | None = None,
        delay_s: float = 2.0,
    ) -> None:
        self.settings = settings
        self.auth = auth
        self.delay_s = delay_s
        self._lock = threading.Lock()
        self._done: set[tuple[int, str]] = set()
        self._running: set[tuple[int, str]] = set()

    def request(
        self, project: int, version: str, *, hostname: str | None, token: str | None
    ) -> bool:
        """Schedule a sync unless one is running or already verified; True if scheduled."""
        creds = self._credentials(hostname, token)
        key = (project, version)
        with self._lock:
            if creds is None or key in self._done or key in self._running:
                return False
            self._running.add(key)
        worker = threading.Thread(
            target=self._run, args=(key, creds), name=f"version-sync-{project}", daemon=True
        )
        worker.start()
        return True

    def is_done(self, project: int, version: str) -> bool:
        with self._lock:
            return (project, version) in self._done

    def _credentials(self, hostname: str | None, token: str | None) -> LabelStudioSettings | None:
        """Our configured Label Studio and key, else what ``/setup`` was given."""
        if self.settings.api_key is not None:
            return self.settings
        if hostname and token:
            try:
                return LabelStudioSettings(url=hostname, api_key=SecretStr(token))
            except ValueError:
                log.warning("cannot sync model_version: bad Label Studio hostname %r", hostname)
        return None

    def _run(self, key: tuple[int, str], creds: LabelStudioSettings) -> None:
        project, version = key
        time.sleep(self.delay_s)
        try:
            client = connect(creds, check=False)
            outcome = sync_model_version(client, project, version, auth=self.auth)
            if outcome.in_sync:
                with self._lock:
                    self._done.add(key)
        except Exception as exc:  # noqa: BLE001 - logged; the next /setup tries again
            log.warning(
                "project %s: cannot sync model_version to %s: %s", project, version, _brief(exc)
            )
        finally:
            with self._lock:
                self._running.discard(key)


def _brief(exc: Exception) -> str:
    """An SDK error without its response headers: status and body are what explain it."""
    status = getattr(exc, "status_code", None)
    return f"HTTP {status}: {getattr(exc, 'body', '')}" if status else f"{exc}"
