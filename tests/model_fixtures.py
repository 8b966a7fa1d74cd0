"""Fixtures shared by the model, zero-shot and backend tests: label configs, real photos,
settings with a fresh store, a tiny CLIP checkpoint and the offline ImageNet predictor.

``tests/conftest.py`` imports them, so every test folder sees one definition. The CLIP path
uses a tiny random open_clip architecture saved to disk and loaded back through
``embedding.clip_checkpoint``, the same code path a user's real checkpoint takes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from winnow.config import Settings, get_settings

TINY_CLIP = "winnow-test-tiny-clip"
# A real open_clip architecture, just very small: ViT on 32-px images, 2-layer text tower.
TINY_CLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}

# Detection label configs: boxes only, and choices with polygons in one project.
FACES = """<View><Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image"><Label value="Face"/><Label value="car"/>
  </RectangleLabels></View>"""
MIXED = """<View><Image name="img" value="$photo"/>
  <Choices name="kind" toName="img"><Choice value="cat"/><Choice value="space"/></Choices>
  <PolygonLabels name="poly" toName="img">
    <Label value="people" predicted_values="person"/><Label value="Dining tables"/>
  </PolygonLabels></View>"""


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

    config_dir = tmp_path_factory.mktemp("tiny-clip")
    config = config_dir / f"{TINY_CLIP}.json"
    config.write_text(json.dumps(TINY_CLIP_CONFIG))
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    model = open_clip.create_model(TINY_CLIP, pretrained=None)
    checkpoint = config_dir / "tiny-clip.pt"
    torch.save(model.state_dict(), checkpoint)
    return TINY_CLIP, checkpoint


@pytest.fixture(scope="session")
def imagenet_predictor():
    """The offline ImageNet zero-shot predictor with the real shipped weights (built once)."""
    from winnow.zeroshot import make_predictor

    return make_predictor(get_settings(embedding={"kind": "backbone"}))
