"""A small real index for the API tests: variants of real photos, embedded by the real backbone.

Three photos (a cat, an espresso, a space shuttle), six crops or flips of each, so every
image has true near neighbours with the same label. Stored in a real Qdrant Edge shard.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from skimage import data

from serve.app import create_app
from serve.engine import Parts
from winnow.config import Settings
from winnow.index import IndexPoint, open_index

PHOTOS = {"cat": "chelsea", "espresso": "coffee", "space shuttle": "rocket"}
SPLITS = ("train", "train", "train", "val", "val", "test")


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(data, name)()).convert("RGB")


def variants(image: Image.Image) -> list[Image.Image]:
    w, h = image.size
    crops = [
        image.crop((int(w * f), int(h * f), int(w * (1 - f)), int(h * (1 - f))))
        for f in (0.0, 0.05, 0.1, 0.15)
    ]
    return [*crops, ImageOps.mirror(image), image.resize((w // 2, h // 2))]


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def zero_shot():
    from winnow.zeroshot import make_predictor

    return make_predictor(Settings())


@pytest.fixture(scope="session")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve_images")


@pytest.fixture(scope="session")
def corpus(zero_shot, image_root: Path) -> list[tuple[IndexPoint, Image.Image]]:
    """(point, image) pairs: task ids 1..18, one flagged image per label; files on disk."""
    import hashlib

    embedder = zero_shot.feature_model.backbone
    out, task = [], 1
    for label, name in PHOTOS.items():
        images = variants(photo(name))
        vectors = embedder.embed_images(images)
        for i, (image, vector) in enumerate(zip(images, vectors, strict=True)):
            body = jpeg(image)
            sha = hashlib.sha256(body).hexdigest()
            path = image_root / f"{name}_{i}.jpg"
            path.write_bytes(body)
            flags = ["blurry"] if i == 5 else []
            payload = {
                "sha256": sha,
                "task_id": task,
                "task_ids": [task],
                "labels": [label],
                "label": label,
                "split": SPLITS[i],
                "flags": flags,
                "url": str(path),
                "project": 7,
            }
            out.append((IndexPoint(sha, vector, payload), image))
            task += 1
    return out


@pytest.fixture(scope="session")
def serve_settings(tmp_path_factory: pytest.TempPathFactory, image_root: Path) -> Settings:
    root: Path = tmp_path_factory.mktemp("serve")
    return Settings(
        data_dir=root,
        io={"local_roots": [image_root]},
        serve={"project": 7, "max_upload_bytes": 2_000_000},
    )


@pytest.fixture(scope="session")
def filled_index(serve_settings: Settings, corpus) -> Iterator:
    index = open_index(serve_settings)
    index.upsert([point for point, _ in corpus])
    yield index
    index.close()


@pytest.fixture(scope="session")
def parts(filled_index, zero_shot) -> Parts:
    return Parts(index=filled_index, embedder=zero_shot.feature_model.backbone, zero_shot=zero_shot)


@pytest.fixture()
def client(serve_settings: Settings, parts: Parts):
    from fastapi.testclient import TestClient

    app = create_app(serve_settings, parts=parts, load=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
