"""EmbeddingCache: sources -> embeddings through the feature store, computing nothing twice."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from winnow.config import EmbeddingSettings, ImageIOSettings
from winnow.errors import FetchError
from winnow.features.embed_cache import EmbeddingCache
from winnow.imageio import ImageReader
from winnow.store import FeatureStore, SourceRecord

PHOTOS = ["coffee.jpg", "chelsea.png", "astronaut.bmp", "chelsea.webp"]


@pytest.fixture(scope="module")
def backbone():
    from winnow.models import BackboneEmbedder

    return BackboneEmbedder(EmbeddingSettings(batch_size=2))


class CountingReader:
    """The real local reader (files under ``root`` allowed), counting reads (a second pass
    should make none)."""

    def __init__(self, root: Path) -> None:
        self.reader = ImageReader(ImageIOSettings(local_roots=[root]))
        self.calls: list[str] = []

    def __call__(self, source: str) -> bytes:
        self.calls.append(source)
        return self.reader.read(source)


@pytest.fixture
def folder(tmp_path: Path, real_images_dir: Path, test_data_dir: Path) -> Path:
    out = tmp_path / "images"
    out.mkdir()
    for name in PHOTOS:
        shutil.copy(real_images_dir / name, out / name)
    shutil.copy(real_images_dir / "chelsea.png", out / "chelsea_copy.png")
    for name in ("corrupt.jpg", "truncated.jpg", "zero.jpg"):
        shutil.copy(test_data_dir / name, out / name)
    return out


@pytest.fixture
def cache(tmp_path: Path, backbone):
    store = FeatureStore(tmp_path / "store.sqlite")
    cache = EmbeddingCache(
        store, backbone, max_pixels=10**8, threads=4, batch_size=2, local_roots=[tmp_path]
    )
    yield cache
    cache.close()
    store.close()


def test_first_pass_embeds_each_content_once_second_pass_reads_nothing(cache, folder, backbone):
    sources = [str(folder / n) for n in [*PHOTOS, "chelsea_copy.png", "coffee.jpg"]]
    read = CountingReader(folder)
    first = cache.embed_sources(sources, read)
    assert first.computed == 4  # chelsea.png and its copy share one content; coffee repeats
    assert first.errors == {}
    assert first.ok.all()
    np.testing.assert_allclose(np.linalg.norm(first.vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first.vectors[1], first.vectors[4])  # same content
    np.testing.assert_array_equal(first.vectors[0], first.vectors[5])  # same source twice
    assert sorted(set(read.calls)) == sorted(set(sources))
    expected = backbone.embed_images([Image.open(folder / "chelsea.png").convert("RGB")])[0]
    assert float(first.vectors[1] @ expected) > 0.999

    again = CountingReader(folder)
    second = cache.embed_sources(sources, again)
    assert (second.computed, second.cache_hits, again.calls) == (0, 5, [])
    np.testing.assert_array_equal(second.vectors, first.vectors)


def test_bad_images_fail_alone_and_are_remembered(cache, folder):
    sources = [
        str(folder / n)
        for n in ("coffee.jpg", "corrupt.jpg", "zero.jpg", "truncated.jpg", "missing.jpg")
    ]
    result = cache.embed_sources(sources, CountingReader(folder))
    assert result.ok.tolist() == [True, False, False, False, False]
    kinds = {i: e.kind for i, e in result.errors.items()}
    assert kinds[2] == "zero_byte" and kinds[3] == "truncated"
    assert kinds[1] in ("corrupt", "truncated") and kinds[4] == "fetch_failed"
    assert not result.vectors[1:].any()
    recorded = cache.store.sources_by_uri(sources[1:4]).values()
    known = cache.store.image_errors(rec.sha256 for rec in recorded)
    assert len(known) == 3  # decode failures are content facts: stored
    again = cache.embed_sources(sources, CountingReader(folder))
    assert again.computed == 0
    assert {i: e.kind for i, e in again.errors.items()} == kinds


def test_a_changed_local_file_is_read_again(cache, folder):
    path = folder / "coffee.jpg"
    first = cache.embed_sources([str(path)], CountingReader(folder))
    shutil.copy(folder / "astronaut.bmp", path)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    read = CountingReader(folder)
    second = cache.embed_sources([str(path)], read)
    assert read.calls == [str(path)] and second.computed == 1
    assert float(first.vectors[0] @ second.vectors[0]) < 0.99


def test_recording_sources_keeps_the_labels_a_folder_import_set(cache, folder):
    uri = str(folder / "chelsea.png")
    cache.store.put_sources([SourceRecord(uri, None, label="cat", split="train")])
    cache.embed_sources([uri], CountingReader(folder))
    record = cache.store.sources_by_uri([uri])[uri]
    assert (record.label, record.split) == ("cat", "train")
    assert record.sha256 is not None and record.size == (folder / "chelsea.png").stat().st_size


def test_unexpected_reader_errors_fail_that_source_without_being_stored(cache, folder):
    def flaky(source: str) -> bytes:
        if source.endswith("chelsea.png"):
            raise RuntimeError("connection pool exploded")
        if source.endswith("missing"):
            raise FetchError(source, "gone")
        return Path(source).read_bytes()

    sources = [str(folder / "coffee.jpg"), str(folder / "chelsea.png"), "missing"]
    result = cache.embed_sources(sources, flaky)
    assert result.ok.tolist() == [True, False, False]
    assert result.errors[1].kind == "internal_error"
    assert "connection pool exploded" in result.errors[1].reason
    assert cache.store.counts()["undecodable"] == 0


def test_a_recorded_local_source_outside_the_roots_is_never_reused_unread(
    cache, folder, tmp_path, backbone
):
    """A store that once embedded a file (say, from an operator's folder run) must not answer
    for the same path named in data later: the path goes to the reader, which refuses it."""
    uri = str(folder / "coffee.jpg")
    assert cache.embed_sources([uri], CountingReader(folder)).computed == 1
    strict = EmbeddingCache(cache.store, backbone, max_pixels=10**8, threads=1)
    try:
        refusing = ImageReader(ImageIOSettings())
        result = strict.embed_sources([uri, "FILE://" + uri], refusing.read)
    finally:
        strict.close()
    assert result.cache_hits == 0 and not result.ok.any()
    assert {e.kind for e in result.errors.values()} == {"blocked_source"}
