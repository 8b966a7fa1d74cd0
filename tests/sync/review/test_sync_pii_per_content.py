"""PII findings are computed once per content and given to every task that shows it: two
tasks over the same real face photo both get a finding, a landscape gets none, and the
detector runs once per distinct image (the cache holds one entry each)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from PIL import Image
from skimage import data

from sync.review.pii import pii_issues
from sync.review.state import TaskRow
from winnow.config import get_settings
from winnow.detection import make_face_detector
from winnow.store.detections import DetectionStore


def test_pii_is_found_per_content_and_given_to_every_task_showing_it(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(data.astronaut()).resize((256, 256)).save(images / "face.jpg", quality=90)
    Image.fromarray(data.coffee()).resize((256, 170)).save(images / "coffee.jpg", quality=90)
    settings = get_settings(data_dir=tmp_path / "data")
    settings = settings.model_copy(
        update={"io": settings.io.model_copy(update={"local_roots": [images]})}
    )
    shas = {"face.jpg": "a" * 64, "coffee.jpg": "b" * 64}
    shown = [(1, "face.jpg"), (2, "coffee.jpg"), (3, "face.jpg")]
    tasks = [TaskRow(i, "t", {}, {}, [], [], str(images / name), shas[name]) for i, name in shown]
    table = pd.DataFrame(
        {"uri": [f"task:{i}" for i, _ in shown], "sha256": [shas[n] for _, n in shown]}
    )

    issues = pii_issues(tasks, table, settings)

    assert sorted(issues["path"]) == ["task:1", "task:3"]
    assert set(issues["issue_type"]) == {"pii"}
    assert all(d.startswith("1 faces") for d in issues["details"])
    assert list(issues.columns) == [
        "path",
        "issue_type",
        "score",
        "group",
        "given_label",
        "suggested_label",
        "details",
    ]
    version = make_face_detector(settings.detection).model_version
    with DetectionStore(settings.store_path) as cache:
        assert set(cache.get(list(shas.values()), version)) == set(shas.values())
