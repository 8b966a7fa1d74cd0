"""Building an open_clip model from real weights, or failing clearly. Never random weights.

Weights come from a local checkpoint (``clip_checkpoint``) or a pretrained tag
(``clip_model`` + ``clip_pretrained``). A tag is looked up in the cache first and loaded from
the file found there, so a warm cache needs no network at all; a cold cache downloads only
when online. Every way of not getting weights raises :class:`WeightsUnavailableError` whose
message names the model, the tag or path, the cache folder and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import open_clip
import torch

from winnow.config import EmbeddingSettings
from winnow.errors import ModelError, WeightsUnavailableError
from winnow.models.embedder import file_sha256
from winnow.models.hub import cached_hub_file, hub_cache_dir, hub_offline

_FIX = (
    "Set WINNOW_EMBEDDING__CLIP_CHECKPOINT to a local open_clip state dict, or go online "
    "once (HF_HUB_OFFLINE unset) so the weights download into the cache."
)
_HUB_DEFAULT = "open_clip_pytorch_model.bin"
_PREPROCESS_KEYS = ("mean", "std", "interpolation", "resize_mode")


def load_clip(settings: EmbeddingSettings) -> tuple[torch.nn.Module, Any, str]:
    """(model, tokenizer, model_id) for the configured open_clip weights.

    ``clip_checkpoint`` wins over ``clip_pretrained``. Model names are open_clip's built-in
    architectures (or ones added with ``open_clip.add_model_config``).
    """
    name = settings.clip_model
    if ":" in name:  # 'hf-hub:' / 'local-dir:' would ignore the tag and checkpoint we pass
        raise ModelError(
            f"CLIP model {name!r}: open_clip schemas are not supported; use an architecture "
            "name such as 'ViT-B-32' with clip_pretrained or clip_checkpoint"
        )
    if open_clip.get_model_config(name) is None:
        raise ModelError(f"unknown open_clip model {name!r}; see open_clip.list_models()")
    if settings.clip_checkpoint is not None:
        model = _from_checkpoint(name, Path(settings.clip_checkpoint))
        model_id = f"clip:{name}@sha256:{file_sha256(Path(settings.clip_checkpoint))[:12]}"
    elif settings.clip_pretrained:
        model = _from_tag(name, settings.clip_pretrained, settings.clip_cache_dir)
        model_id = f"clip:{name}@{settings.clip_pretrained}"
    else:
        raise WeightsUnavailableError(
            f"CLIP model {name!r} has no weights configured (clip_pretrained and "
            f"clip_checkpoint are both empty). {_FIX}"
        )
    return model, _tokenizer(name, settings.clip_cache_dir), model_id


def _from_checkpoint(name: str, path: Path) -> torch.nn.Module:
    if not path.is_file():
        raise WeightsUnavailableError(
            f"CLIP checkpoint {path} for model {name!r} does not exist. {_FIX}"
        )
    try:
        return open_clip.create_model(name, pretrained=str(path), device="cpu")
    except Exception as exc:  # a wrong file is a model error, not missing weights
        raise ModelError(
            f"CLIP checkpoint {path} does not load into model {name!r}: {exc}"
        ) from exc


def _from_tag(name: str, tag: str, cache_dir: Path | None) -> torch.nn.Module:
    cfg = open_clip.get_pretrained_cfg(name, tag)
    where = f"CLIP model {name!r} pretrained {tag!r} (cache {hub_cache_dir(cache_dir)})"
    if not cfg:
        known = open_clip.list_pretrained_tags_by_model(name)
        raise WeightsUnavailableError(f"{where}: unknown tag; known tags: {known}. {_FIX}")
    cached = cached_tag_file(cfg, cache_dir)
    try:
        if cached is not None:
            preprocess = {k: cfg[k] for k in _PREPROCESS_KEYS if k in cfg}
            return open_clip.create_model(
                name, pretrained=str(cached), device="cpu", force_preprocess_cfg=preprocess
            )
        if hub_offline():
            raise OSError("HF_HUB_OFFLINE is set and the weights are not cached")
        return open_clip.create_model(
            name, pretrained=tag, device="cpu", cache_dir=_str(cache_dir), require_pretrained=True
        )
    except Exception as exc:
        raise WeightsUnavailableError(f"{where}: weights unavailable ({exc}). {_FIX}") from exc


def cached_tag_file(cfg: dict, cache_dir: Path | None) -> Path | None:
    """The already-downloaded weights file of a pretrained tag, or None. Never downloads."""
    if cfg.get("file"):
        return Path(cfg["file"]) if os.path.isfile(cfg["file"]) else None
    if cfg.get("hf_hub"):
        repo_id, filename = os.path.split(cfg["hf_hub"])
        filename = filename or _HUB_DEFAULT
        candidates = [filename]
        if filename == _HUB_DEFAULT:
            candidates.insert(0, "open_clip_model.safetensors")
        elif filename.endswith((".bin", ".pth")):
            candidates.insert(0, filename[:-4] + ".safetensors")
        return cached_hub_file(repo_id, candidates, cache_dir)
    if cfg.get("url"):
        folder = Path(cache_dir) if cache_dir else Path("~/.cache/clip").expanduser()
        path = folder / os.path.basename(cfg["url"])
        return path if path.is_file() else None
    return None


def _tokenizer(name: str, cache_dir: Path | None) -> Any:
    try:
        return open_clip.get_tokenizer(name, cache_dir=_str(cache_dir))
    except Exception as exc:
        raise WeightsUnavailableError(
            f"tokenizer for CLIP model {name!r} is unavailable (cache "
            f"{hub_cache_dir(cache_dir)}): {exc}. {_FIX}"
        ) from exc


def _str(path: Path | None) -> str | None:
    return str(path) if path is not None else None
