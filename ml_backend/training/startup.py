"""Turning active learning on for a started backend, without ever stopping it from starting."""

from __future__ import annotations

import logging
from typing import Any

from ml_backend.training.active_learning import ActiveLearning
from winnow.errors import WinnowError

log = logging.getLogger(__name__)


def attach(state: Any) -> ActiveLearning | None:
    """Active learning for a started backend (``app.state.backend``), if enabled. A failure
    here is logged and leaves zero-shot answering, never a backend that does not start."""
    from ml_backend.auth import basic_auth

    if state.service is None or not state.settings.training.enabled:
        return None
    try:
        return ActiveLearning(
            state.settings,
            state.service,
            state.metrics,
            label_studio=state.label_studio,
            auth=basic_auth(state.settings),
        )
    except (WinnowError, OSError) as exc:
        log.error("active learning is off: %s", exc)
        return None
