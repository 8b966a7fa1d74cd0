"""Real small images in class folders, and the records frame an export starts from."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data as photos

from winnow.config import ImageIOSettings, Settings, get_settings
from winnow.imageio import ImageReader

PHOTOS = ("coffee", "chelsea", "astronaut", "rocket")


def write_crops(folder: Path, *, per_class: int = 10, side: int = 96, seed: int = 0) -> None:
    """``folder/<photo>/<photo>_<i>.jpg``: random crops of real photos, ``side`` px wide."""
    rng = np.random.default_rng(seed)
    for photo in PHOTOS:
        pixels = np.asarray(Image.fromarray(getattr(photos, photo)()).convert("RGB"))
        h, w = pixels.shape[:2]
        (folder / photo).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            ch, cw = int(h * rng.uniform(0.3, 0.6)), int(w * rng.uniform(0.3, 0.6))
            y, x = rng.integers(0, h - ch), rng.integers(0, w - cw)
            crop = Image.fromarray(pixels[y : y + ch, x : x + cw])
            crop.resize((side, max(8, side * ch // cw))).save(
                folder / photo / f"{photo}_{i}.jpg", quality=90
            )


def records_of(folder: Path) -> pd.DataFrame:
    """The project-frame contract for a class folder (one task per file, sorted)."""
    rows = []
    for task_id, path in enumerate(sorted(folder.rglob("*.*")), start=1):
        data = path.read_bytes()
        with Image.open(path) as image:
            width, height = image.size
        rows.append(
            {
                "task_id": task_id,
                "image": str(path),
                "sha256": hashlib.sha256(data).hexdigest(),
                "labels": [path.parent.name],
                "split": None,
                "flags": [],
                "width": width,
                "height": height,
                "source": f"https://photos.example.org/{path.name}",
                "licence": "CC0-1.0",
                "collected_at": f"2024-01-{task_id % 28 + 1:02d}",
                "updated_at": "2024-02-01T00:00:00Z",
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def crops_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crops")
    write_crops(folder)
    return folder


@pytest.fixture
def records(crops_dir: Path) -> pd.DataFrame:
    return records_of(crops_dir)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return get_settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def resolve(tmp_path_factory: pytest.TempPathFactory) -> Callable[[pd.Series], bytes]:
    """Reads the test's own files: local paths in records are allowed only under a root."""
    reader = ImageReader(ImageIOSettings(local_roots=[tmp_path_factory.getbasetemp()]))
    return lambda row: reader.read(str(row["image"]))


@pytest.fixture
def make_records(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., pd.DataFrame]:
    """Records of fresh crops: ``make(seed, per_class=, first_task=)``."""

    def make(seed: int, *, per_class: int = 10, first_task: int = 1) -> pd.DataFrame:
        folder = tmp_path_factory.mktemp(f"crops-{seed}")
        write_crops(folder, per_class=per_class, seed=seed)
        frame = records_of(folder)
        frame["task_id"] += first_task - 1
        return frame

    return make
