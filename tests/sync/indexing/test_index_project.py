"""`winnow index`: a project frame or a folder of real photos into a real Qdrant Edge index."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sync.indexing.job import folder_frame, index_frame
from winnow.cli.app import build_app
from winnow.config import EmbeddingSettings, get_settings
from winnow.index import SearchFilter, open_index
from winnow.index.edge import EdgeIndex

pytestmark = pytest.mark.slow  # runs the real EfficientNet-Lite0 backbone


@pytest.fixture(scope="module")
def backbone():
    from winnow.models import BackboneEmbedder

    return BackboneEmbedder(EmbeddingSettings())


def tasks_frame(images: Path, corrupt: Path) -> pd.DataFrame:
    """Tasks as sync.project_frame returns them, before any content was hashed."""
    files = sorted(images.iterdir())
    rows = [
        {
            "task_id": 10 + i,
            "image": str(f),
            "sha256": None,
            "labels": ["cat"] if "chelsea" in f.name else ["other"],
            "split": "train",
            "flags": [],
        }
        for i, f in enumerate(files)
    ]
    rows.append(
        {
            "task_id": 99,
            "image": str(corrupt),
            "sha256": None,
            "labels": [],
            "split": "val",
            "flags": ["unreadable"],
        }
    )
    rows.append(
        {"task_id": 100, "image": None, "sha256": None, "labels": [], "split": None, "flags": []}
    )
    return pd.DataFrame(rows)


def test_index_frame_embeds_once_and_syncs(
    real_images_dir: Path, test_data_dir: Path, tmp_path: Path, backbone
) -> None:
    # the task paths are local files: allowed only under io.local_roots
    settings = get_settings(data_dir=tmp_path, io={"local_roots": [real_images_dir, test_data_dir]})
    frame = tasks_frame(real_images_dir, test_data_dir / "corrupt.jpg")
    index = EdgeIndex(tmp_path / "index")
    run = index_frame(frame, settings=settings, index=index, embedder=backbone, project=3)
    assert run.extraction is not None and run.extraction.embedded == 8
    assert (run.sync.upserted, run.sync.no_image) == (8, 1)
    assert run.total_points == 8 and index.dim == backbone.dim
    assert index.count(SearchFilter(labels="cat", project=3)) == 3

    coffee = next(p for p in index.points() if p.payload["url"].endswith("coffee.jpg"))
    assert coffee.payload["task_ids"] == [
        10 + sorted(real_images_dir.iterdir()).index(real_images_dir / "coffee.jpg")
    ]
    [stored] = index.retrieve([coffee.sha256], with_vectors=True)
    hits = index.search(stored.vector, k=3)
    assert hits[0].sha256 == coffee.sha256
    assert hits[1].payload["url"].endswith("coffee.tif")  # the same photo, another format

    again = index_frame(frame, settings=settings, index=index, embedder=backbone, project=3)
    assert again.extraction is not None and again.extraction.computed == 0
    assert (again.sync.upserted, again.sync.unchanged) == (0, 8)
    shrunk = frame[~frame["image"].fillna("").str.endswith("coffee.tif")]
    third = index_frame(shrunk, settings=settings, index=index, embedder=backbone, project=3)
    assert (third.sync.deleted, third.total_points) == (1, 7)
    index.close()


def test_index_command_on_a_folder_with_findings(
    real_images_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    (folder / "cat").mkdir(parents=True)
    (folder / "food").mkdir()
    for name in ("chelsea.png", "chelsea.webp"):
        shutil.copy(real_images_dir / name, folder / "cat" / name)
    shutil.copy(real_images_dir / "coffee.jpg", folder / "food" / "coffee.jpg")
    findings = tmp_path / "issues.csv"
    pd.DataFrame(
        [{"path": str(folder / "cat" / "chelsea.webp"), "issue_type": "near_duplicate"}]
    ).to_csv(findings, index=False)
    monkeypatch.setenv("WINNOW_DATA_DIR", str(tmp_path / "data"))
    app = build_app()
    result = CliRunner().invoke(app, ["index", "--dir", str(folder), "--findings", str(findings)])
    assert result.exit_code == 0, result.output
    assert "images indexed" in result.output and "efficientnet_lite0" in result.output

    index = open_index(get_settings())  # the version the command published
    assert index.count() == 3 and index.count(SearchFilter(labels="food")) == 1
    assert index.count(SearchFilter(exclude_flagged=True)) == 2
    assert np.isclose(
        index.search(
            index.retrieve(
                [p.sha256 for p in index.points(SearchFilter(labels="food"))], with_vectors=True
            )[0].vector,
            k=1,
        )[0].score,
        1.0,
        atol=1e-4,
    )
    index.close()

    bad = CliRunner().invoke(app, ["index"])
    assert bad.exit_code == 2 and "exactly one of" in bad.output


def test_folder_frame_reads_layout_and_findings(real_images_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    shutil.copy(real_images_dir / "coffee.jpg", folder / "coffee.jpg")
    frame = folder_frame(get_settings(data_dir=tmp_path), folder)
    assert frame[["labels", "flags"]].to_dict("records") == [{"labels": [], "flags": []}]
    assert frame["sha256"].isna().all()  # not in the store yet: index_frame will read it
