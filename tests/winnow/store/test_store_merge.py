"""Stores filled on separate nodes, merged, hold what one run over all the images holds."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from winnow.errors import StoreError
from winnow.store import FeatureStore, SourceRecord


def _winnow(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WINNOW_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "winnow", *args], env=env, capture_output=True, text=True
    )


def _contents(path: Path) -> tuple[dict, dict, dict]:
    """Images (minus the time they were computed), embeddings and sources of a store."""
    with FeatureStore(path, readonly=True) as store:
        images = store.images_frame().drop(columns="computed_at").set_index("sha256")
        (model_id,) = store.embedding_models()
        shas, vectors = store.embeddings(model_id)
        sources = store.sources_frame().set_index("uri")["sha256"].to_dict()
    return images.sort_index().to_dict(), dict(zip(shas, vectors, strict=True)), sources


@pytest.fixture(scope="module")
def halves(real_images_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("halves")
    names = sorted(p.name for p in real_images_dir.iterdir())
    folders = []
    for i, part in enumerate((names[::2], names[1::2])):
        folder = root / f"node{i}"
        folder.mkdir()
        for name in part:
            shutil.copy(real_images_dir / name, folder / name)
        folders.append(folder)
    return folders


def test_merged_node_stores_equal_one_run_over_everything(
    halves: list[Path], real_images_dir: Path, tmp_path: Path
) -> None:
    for i, folder in enumerate(halves):
        done = _winnow(tmp_path / f"data{i}", "features", str(folder), "--workers", "1")
        assert done.returncode == 0, done.stderr
    whole = _winnow(tmp_path / "whole", "features", str(real_images_dir), "--workers", "1")
    assert whole.returncode == 0, whole.stderr

    merged = _winnow(
        tmp_path / "data0", "store", "merge", str(tmp_path / "data1" / "features.sqlite")
    )
    assert merged.returncode == 0, merged.stderr
    assert "+" in merged.stdout and "embeddings" in merged.stdout

    images, vectors, sources = _contents(tmp_path / "data0" / "features.sqlite")
    want_images, want_vectors, want_sources = _contents(tmp_path / "whole" / "features.sqlite")
    assert images == want_images
    assert vectors.keys() == want_vectors.keys()
    for sha, vector in vectors.items():
        np.testing.assert_allclose(vector, want_vectors[sha], atol=1e-5)
    # same contents, found under each node's own folder
    assert sorted(sources.values()) == sorted(want_sources.values())

    again = _winnow(
        tmp_path / "data0", "store", "merge", str(tmp_path / "data1" / "features.sqlite")
    )
    assert again.returncode == 0, again.stderr
    assert "+0 images, +0 embeddings, +0 sources" in again.stdout


def test_a_newer_sighting_of_a_source_wins_and_an_older_one_does_not(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours.sqlite", tmp_path / "theirs.sqlite"
    with FeatureStore(theirs) as store:
        store.put_sources([SourceRecord("s3://b/x.jpg", "1" * 64, label="old")])
    with FeatureStore(ours) as store:
        store.put_sources([SourceRecord("s3://b/x.jpg", "2" * 64, label="new")])
        assert store.merge_from(theirs)["sources"] == 0
        assert store.sources_by_uri(["s3://b/x.jpg"])["s3://b/x.jpg"].label == "new"
    with FeatureStore(theirs) as store:
        store.put_sources([SourceRecord("s3://b/x.jpg", "3" * 64, label="newest")])
    with FeatureStore(ours) as store:
        store.merge_from(theirs)
        assert store.sources_by_uri(["s3://b/x.jpg"])["s3://b/x.jpg"].sha256 == "3" * 64


def test_merge_refuses_itself_and_files_that_are_not_stores(tmp_path: Path) -> None:
    path = tmp_path / "features.sqlite"
    other = tmp_path / "notes.sqlite"
    other.write_bytes(b"not a database at all" * 10)
    with FeatureStore(path) as store:
        with pytest.raises(StoreError, match="itself"):
            store.merge_from(path)
        with pytest.raises(StoreError):
            store.merge_from(other)
        with pytest.raises(StoreError):
            store.merge_from(tmp_path / "missing.sqlite")
