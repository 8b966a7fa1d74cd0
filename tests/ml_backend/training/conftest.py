"""Shared builders of the active-learning tests against a real Label Studio: photo variants
in its local-files root, annotation results, and polling."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

PHOTOS = {"cat": "chelsea", "coffee": "coffee", "person": "astronaut"}
VARIANTS = 5  # crops and flips of each photo


@pytest.fixture(scope="module")
def image_urls(ls_files_root: Path) -> dict[str, list[str]]:
    """class -> Label Studio URLs of real photo variants in a fresh local-files folder."""
    from skimage import data

    folder = ls_files_root / f"al-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    urls: dict[str, list[str]] = {}
    for label, photo in PHOTOS.items():
        pixels = np.asarray(Image.fromarray(getattr(data, photo)()).convert("RGB"))
        h, w = pixels.shape[:2]
        for k in range(VARIANTS):
            top, left = (k * h) // 12, ((VARIANTS - k) * w) // 14
            crop = pixels[top : top + (2 * h) // 3, left : left + (2 * w) // 3]
            crop = crop[:, ::-1] if k % 2 else crop
            name = f"{label}_{k}.jpg"
            Image.fromarray(np.ascontiguousarray(crop)).save(folder / name, quality=90)
            urls.setdefault(label, []).append(f"/data/local-files/?d={folder.name}/{name}")
    return urls


@pytest.fixture(scope="session")
def choice() -> Callable[[str], list[dict[str, Any]]]:
    """``choice(label)``: the result of a single-choice annotation on control ``label``."""

    def result(label: str) -> list[dict[str, Any]]:
        value = {"choices": [label]}
        return [{"from_name": "label", "to_name": "image", "type": "choices", "value": value}]

    return result


@pytest.fixture(scope="session")
def wait_for() -> Callable[..., Any]:
    """``wait_for(check, timeout_s=60)``: poll until ``check()`` is truthy; return it."""

    def wait(check: Callable[[], Any], timeout_s: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while not (value := check()):
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.3)
        return value

    return wait
