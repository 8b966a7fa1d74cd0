"""Shared builders for the ML backend tests: settings, label configs, real photos, predictors.

The CLIP path uses the tiny random open_clip architecture of ``tests/winnow/models``; its
state dict is saved to disk and loaded back through ``embedding.clip_checkpoint``, the same
code path a user's real checkpoint takes.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from ml_backend.app import create_app
from winnow.config import Settings, get_settings

_MODELS_CONFTEST = Path(__file__).resolve().parents[1] / "winnow" / "models" / "conftest.py"


def _models_conftest() -> Any:
    """The embedder tests' conftest, for its tiny CLIP config (one definition, not a copy)."""
    spec = importlib.util.spec_from_file_location("_winnow_models_conftest", _MODELS_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def _label_config(*choices: str, multiple: bool = False, name: str = "label") -> str:
    mode = "multiple" if multiple else "single"
    body = "".join(f"<Choice {c}/>" for c in choices)
    return (
        f'<View><Image name="image" value="$image"/>'
        f'<Choices name="{name}" toName="image" choice="{mode}">{body}</Choices></View>'
    )


@pytest.fixture(scope="session")
def make_config() -> Callable[..., str]:
    """``make_config('value="cat"', 'value="dog" hint="..."', multiple=False)``: an
    image-classification label config; each entry is the inside of a ``<Choice .../>``."""
    return _label_config


@pytest.fixture(scope="session")
def cat_coffee(make_config: Callable[..., str]) -> str:
    """Two classes the ImageNet predictor can see in skimage's chelsea and coffee photos."""
    return make_config('value="cat"', 'value="coffee" predicted_values="espresso,cup"')


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real photos (scikit-image) as JPEG/PNG, plus an unreadable file."""
    from skimage import data

    folder = tmp_path_factory.mktemp("backend-photos")
    Image.fromarray(data.chelsea()).save(folder / "chelsea.jpg", quality=90)
    Image.fromarray(data.coffee()).save(folder / "coffee.png")
    Image.fromarray(data.astronaut()).save(folder / "astronaut.jpg", quality=90)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    return folder


@pytest.fixture
def make_settings(tmp_path: Path, photo_dir: Path) -> Callable[..., Settings]:
    """Settings with a fresh store; local task paths allowed under ``photo_dir``."""

    def make(**overrides: Any) -> Settings:
        overrides.setdefault("data_dir", tmp_path / "store")
        overrides.setdefault("io", {"local_roots": [photo_dir]})
        backend = {"sync_model_version": False, **overrides.pop("backend", {})}
        return get_settings(backend=backend, **overrides)

    return make


@pytest.fixture(scope="session")
def tiny_clip_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """``(model name, checkpoint path)``: the tiny config registered, a seeded state dict saved."""
    import open_clip
    import torch

    tiny = _models_conftest()
    config_dir = tmp_path_factory.mktemp("tiny-clip")
    config = config_dir / f"{tiny.TINY_CLIP}.json"
    config.write_text(json.dumps(tiny.TINY_CLIP_CONFIG))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model(tiny.TINY_CLIP, pretrained=None)
    checkpoint = config_dir / "tiny-clip.pt"
    torch.save(model.state_dict(), checkpoint)
    return tiny.TINY_CLIP, checkpoint


@pytest.fixture(scope="session")
def imagenet_predictor():
    """The offline ImageNet zero-shot predictor with the real shipped weights (built once)."""
    from winnow.zeroshot import make_predictor

    return make_predictor(get_settings(embedding={"kind": "backbone"}))


@pytest.fixture
def client_for() -> Iterator[Callable[..., TestClient]]:
    """``client_for(settings, predictor=None)``: a started app; all are stopped afterwards."""
    clients: list[TestClient] = []

    def make(settings: Settings, **kwargs: Any) -> TestClient:
        client = TestClient(create_app(settings, **kwargs), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)
