"""End to end: real photos and every bad-file kind through the worker pool into the store."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from winnow.config import Settings, get_settings
from winnow.features.extract import extract_features
from winnow.features.walk import scan_folder
from winnow.models import make_embedder
from winnow.samples import build_edge_cases
from winnow.store import FeatureStore

EXPECTED_FAILURES = {
    "zero.jpg": {"zero_byte"},
    "truncated.jpg": {"truncated"},
    "corrupt.jpg": {"corrupt", "truncated"},
    "text.jpg": {"not_an_image"},
    "bomb.png": {"too_large"},
}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dataset")
    (root / "photos").mkdir()
    Image.fromarray(data.coffee()).save(root / "photos" / "coffee.jpg", quality=92)
    Image.fromarray(data.astronaut()).save(root / "photos" / "astronaut.jpg", quality=92)
    Image.fromarray(data.chelsea()).save(root / "photos" / "chelsea.png")
    shutil.copy(root / "photos" / "coffee.jpg", root / "photos" / "coffee_copy.jpg")
    build_edge_cases(root / "edge")
    return root


def _settings(tmp_path: Path, workers: int) -> Settings:
    return get_settings(data_dir=tmp_path / "store", features={"workers": workers})


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_bad_files_are_recorded_and_rerun_is_all_cache_hits(
    dataset: Path, tmp_path: Path, workers: int
) -> None:
    settings = _settings(tmp_path, workers)
    embedder = make_embedder(settings.embedding)
    items = scan_folder(dataset).items
    with FeatureStore(settings.store_path) as store:
        first = extract_features(
            items, settings=settings, store=store, trusted_roots=[dataset], embedder=embedder
        )
        failures = {Path(uri).name: kind for uri, kind, _ in first.failures}
        assert set(failures) == set(EXPECTED_FAILURES)
        for name, kind in failures.items():
            assert kind in EXPECTED_FAILURES[name], (name, kind)
        ok = len(items) - len(EXPECTED_FAILURES)
        assert first.computed + first.cache_hits == ok
        assert first.embedded == ok - 1  # the exact copy shares its content

        sources = store.sources_frame().set_index("uri")
        images = store.images_frame().set_index("sha256")
        coffee = sources.loc[str(dataset / "photos" / "coffee.jpg"), "sha256"]
        assert sources.loc[str(dataset / "photos" / "coffee_copy.jpg"), "sha256"] == coffee
        assert (images.loc[coffee, "width"], images.loc[coffee, "height"]) == (600, 400)
        by_name = {Path(u).name: s for u, s in sources["sha256"].items()}
        assert images.loc[by_name["cmyk.jpg"], "mode"] == "CMYK"
        assert images.loc[by_name["gray16.png"], "mode"].startswith("I")
        assert images.loc[by_name["animated.gif"], "n_frames"] == 2
        shas, vectors = store.embeddings(embedder.model_id)
        assert len(shas) == ok - 1
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

        second = extract_features(
            items, settings=settings, store=store, trusted_roots=[dataset], embedder=embedder
        )
        assert (second.cache_hits, second.computed, second.embedded) == (len(items), 0, 0)
        # known-bad content is not decoded again, but still reported as unusable
        assert second.errors == first.errors


@pytest.mark.slow
def test_touched_file_is_recomputed_and_new_model_embeds_only(
    dataset: Path, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, 0)
    items = [i for i in scan_folder(dataset).items if "photos" in i.uri]
    with FeatureStore(settings.store_path) as store:
        extract_features(
            items, settings=settings, store=store, trusted_roots=[dataset], embedder=None
        )
        again = extract_features(
            items, settings=settings, store=store, trusted_roots=[dataset], embedder=None
        )
        assert again.cache_hits == len(items)
        target = dataset / "photos" / "chelsea.png"
        target.touch()
        touched = extract_features(
            items, settings=settings, store=store, trusted_roots=[dataset], embedder=None
        )
        # the touched file is read again; its content is known, so it is a content cache hit
        assert touched.cache_hits == len(items) and touched.computed == 0
        embedder = make_embedder(settings.embedding)
        embedded = extract_features(
            items, settings=settings, store=store, trusted_roots=[dataset], embedder=embedder
        )
        assert embedded.embedded == len(items) - 1  # exact copy embedded once
