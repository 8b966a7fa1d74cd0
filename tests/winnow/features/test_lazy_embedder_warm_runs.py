"""A warm run never loads the network: the lazy embedder announces the same model id as the
real one, and extraction over a store that already holds every embedding leaves it unloaded."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from winnow.config import EmbeddingSettings, get_settings
from winnow.features.extract import extract_features
from winnow.features.walk import scan_folder
from winnow.models import make_embedder
from winnow.models.embedder import LazyEmbedder, known_model_id
from winnow.store import FeatureStore


def test_the_announced_model_id_is_the_loaded_one(tmp_path: Path) -> None:
    settings = EmbeddingSettings()
    lazy = make_embedder(settings, lazy=True)
    assert isinstance(lazy, LazyEmbedder) and not lazy.loaded
    assert lazy.dim == 1280 and lazy.loaded  # first use builds the real model
    assert lazy.model_id == make_embedder(settings).model_id == "efficientnet_lite0@imagenet"


def test_local_weights_are_named_by_their_hash(tmp_path: Path) -> None:
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"not really weights")
    named = known_model_id(EmbeddingSettings(backbone_weights=weights))
    assert named is not None and named.startswith("efficientnet_lite0@sha256:")
    other = tmp_path / "v.pth"
    other.write_bytes(b"other bytes")
    assert known_model_id(EmbeddingSettings(backbone_weights=other)) != named


def test_a_hub_model_is_loaded_eagerly_because_only_loading_names_it() -> None:
    assert known_model_id(EmbeddingSettings(backbone_arch="resnet18")) is None


@pytest.mark.slow
def test_a_warm_extraction_never_loads_the_network(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("coffee", "astronaut", "chelsea"):
        Image.fromarray(getattr(data, name)()).save(folder / f"{name}.jpg", quality=90)
    settings = get_settings(data_dir=tmp_path / "store", features={"workers": 0})
    items = scan_folder(folder).items

    def run():
        embedder = make_embedder(settings.embedding, lazy=True)
        with FeatureStore(settings.store_path) as store:
            report = extract_features(
                items, settings=settings, store=store, trusted_roots=[folder], embedder=embedder
            )
            shas, vectors = store.embeddings(embedder.model_id, store.sources_frame()["sha256"])
        return embedder, report, vectors

    cold, first, vectors = run()
    assert cold.loaded and first.computed == 3 and vectors.shape == (3, 1280)
    warm, second, again = run()
    assert second.cache_hits == 3 and second.computed == 0
    assert not warm.loaded
    np.testing.assert_array_equal(again, vectors)
