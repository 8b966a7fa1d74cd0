"""Finding pretrained weights in the Hugging Face cache without touching the network.

huggingface_hub reads ``HF_HUB_OFFLINE`` once, at import; we read it at call time too
(through :func:`winnow.config.library_env`), so an offline setting made later (a test, a CLI
flag) still makes a missing file fail at once instead of after about a minute of retries
against an unreachable host.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from huggingface_hub import constants, try_to_load_from_cache

from winnow.config import library_env

_TRUE = {"1", "on", "yes", "true"}


def hub_offline() -> bool:
    """Whether downloads from the Hugging Face hub are switched off right now."""
    env = library_env("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return bool(constants.HF_HUB_OFFLINE) or env.strip().lower() in _TRUE


def hub_cache_dir(cache_dir: Path | None = None) -> Path:
    """The folder hub downloads go to: ``cache_dir`` if given, else huggingface_hub's cache."""
    return Path(cache_dir) if cache_dir is not None else Path(constants.HF_HUB_CACHE)


def cached_hub_file(
    repo_id: str, filenames: Sequence[str], cache_dir: Path | None = None
) -> Path | None:
    """The first of ``filenames`` already cached for ``repo_id``, or None. Never downloads."""
    for name in filenames:
        hit = try_to_load_from_cache(
            repo_id, name, cache_dir=str(cache_dir) if cache_dir is not None else None
        )
        if isinstance(hit, str) and os.path.isfile(hit):
            return Path(hit)
    return None
