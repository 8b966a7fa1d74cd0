"""CLIP plumbing with a tiny randomly initialised open_clip model (no CLIP weights ship offline).

The tiny model is a real open_clip architecture; its saved state dict goes back through the
same ``clip_checkpoint`` loading code a user's real checkpoint would.
"""

from __future__ import annotations

import hashlib

import numpy as np
import open_clip
import pytest
import torch

from winnow.config import EmbeddingSettings
from winnow.errors import ModelError, WeightsUnavailableError
from winnow.models import ClipEmbedder, Embedder, make_embedder

TEXTS = ["a photo of a cat", "a photo of a dog", "espresso", "an astronaut", "a rocket"]


@pytest.fixture()
def embedder(tiny_clip) -> ClipEmbedder:
    model, tokenizer = tiny_clip
    return ClipEmbedder.from_model(model, tokenizer, model_id="clip:tiny@random")


def clip_settings(**overrides) -> EmbeddingSettings:
    return EmbeddingSettings(kind="clip", **overrides)


def test_shapes_and_unit_norms(embedder, random_batch):
    assert isinstance(embedder, Embedder)
    assert embedder.dim == 32
    assert embedder.input_spec.size == 32
    assert embedder.input_spec.resize == "center_crop"
    images = embedder.embed_arrays(random_batch(5, 32))
    texts = embedder.embed_texts(TEXTS)
    for vectors in (images, texts):
        assert vectors.shape == (5, 32)
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed_texts([]).shape == (0, 32)
    assert embedder.logit_scale == pytest.approx(1 / 0.07, rel=1e-5)  # open_clip's init


def test_uses_the_models_own_normalisation(embedder, tiny_clip, random_batch):
    model, _ = tiny_clip
    cfg = open_clip.get_model_preprocess_cfg(model)
    batch = random_batch(3, 32, seed=4)
    x = torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255.0
    x = (x - torch.tensor(cfg["mean"]).view(1, 3, 1, 1)) / torch.tensor(cfg["std"]).view(1, 3, 1, 1)
    with torch.inference_mode():
        expected = model.encode_image(x, normalize=True).numpy()
    np.testing.assert_allclose(embedder.embed_arrays(batch), expected, atol=1e-5)


def test_batching_does_not_change_results(tiny_clip, photos):
    model, tokenizer = tiny_clip
    big = ClipEmbedder.from_model(model, tokenizer, model_id="t", batch_size=32)
    small = ClipEmbedder.from_model(model, tokenizer, model_id="t", batch_size=2)
    images = list(photos.values())
    np.testing.assert_allclose(small.embed_images(images), big.embed_images(images), atol=1e-5)
    np.testing.assert_allclose(small.embed_texts(TEXTS), big.embed_texts(TEXTS), atol=1e-5)


def test_text_embedding_depends_on_the_text(embedder):
    vectors = embedder.embed_texts(["a cat", "a cat", "a rocket launch"])
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert not np.allclose(vectors[0], vectors[2])
    with pytest.raises(TypeError):
        embedder.embed_texts("a cat")


def test_checkpoint_round_trip(tmp_path, tiny_clip_name, embedder, random_batch):
    path = tmp_path / "tiny.pt"
    torch.save(embedder.model.state_dict(), path)
    loaded = make_embedder(clip_settings(clip_model=tiny_clip_name, clip_checkpoint=path))
    assert isinstance(loaded, ClipEmbedder)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    assert loaded.model_id == f"clip:{tiny_clip_name}@sha256:{digest}"
    batch = random_batch(4, 32, seed=9)
    np.testing.assert_array_equal(loaded.embed_arrays(batch), embedder.embed_arrays(batch))
    np.testing.assert_array_equal(loaded.embed_texts(TEXTS), embedder.embed_texts(TEXTS))
    assert loaded.logit_scale == embedder.logit_scale


def test_missing_checkpoint_names_the_path(tmp_path, tiny_clip_name):
    missing = tmp_path / "weights" / "absent.pt"
    with pytest.raises(WeightsUnavailableError) as info:
        ClipEmbedder(clip_settings(clip_model=tiny_clip_name, clip_checkpoint=missing))
    assert str(missing) in str(info.value)
    assert "WINNOW_EMBEDDING__CLIP_CHECKPOINT" in str(info.value)


def test_checkpoint_of_another_model_is_a_model_error(tmp_path, tiny_clip_name):
    path = tmp_path / "wrong.pt"
    torch.save({"visual.proj": torch.zeros(3, 3)}, path)
    with pytest.raises(ModelError, match="does not load"):
        ClipEmbedder(clip_settings(clip_model=tiny_clip_name, clip_checkpoint=path))


@pytest.mark.timeout(20)
def test_pretrained_tag_offline_fails_fast_and_clearly(hub_cache, tmp_path):
    cache = tmp_path / "clip-cache"
    with pytest.raises(WeightsUnavailableError) as info:
        ClipEmbedder(
            clip_settings(
                clip_model="ViT-B-32", clip_pretrained="laion2b_s34b_b79k", clip_cache_dir=cache
            )
        )
    message = str(info.value)
    for part in ("ViT-B-32", "laion2b_s34b_b79k", str(cache), "CLIP_CHECKPOINT"):
        assert part in message


def test_unknown_tag(hub_cache):
    with pytest.raises(WeightsUnavailableError, match="unknown tag.*laion2b_s34b_b79k"):
        ClipEmbedder(clip_settings(clip_model="ViT-B-32", clip_pretrained="no-such-tag"))


def test_no_weights_configured_is_refused(tiny_clip_name):
    with pytest.raises(WeightsUnavailableError, match="no weights configured"):
        ClipEmbedder(clip_settings(clip_model=tiny_clip_name, clip_pretrained=None))


@pytest.mark.parametrize("name", ["ViT-Q-99", "hf-hub:org/some-clip"])
def test_unknown_or_unsupported_model_name(name):
    with pytest.raises(ModelError, match=name) as info:
        ClipEmbedder(clip_settings(clip_model=name))
    assert not isinstance(info.value, WeightsUnavailableError)


def test_download_failure_online_is_wrapped(hub_cache, monkeypatch):
    """Online but the hub is unreachable: the network boundary raises, we explain."""
    import open_clip.pretrained
    from huggingface_hub import constants

    def unreachable(*args, **kwargs):
        raise ConnectionError("huggingface.co: Name or service not known")

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(open_clip.pretrained, "hf_hub_download", unreachable)
    with pytest.raises(WeightsUnavailableError, match="laion2b_s34b_b79k") as info:
        ClipEmbedder(clip_settings(clip_model="ViT-B-32", clip_pretrained="laion2b_s34b_b79k"))
    assert "Name or service not known" in str(info.value)


def test_pretrained_tag_loads_from_a_warm_cache_offline(
    hub_cache, monkeypatch, tiny_clip_name, embedder, random_batch
):
    """The tag path reads weights from the cache, with the tag's own normalisation."""
    import open_clip.pretrained

    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)
    tags = {"tiny_tag": {"hf_hub": "winnow-test/tiny-clip/", "mean": mean, "std": std}}
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, tiny_clip_name, tags)
    hub_cache.put(
        "winnow-test/tiny-clip",
        "open_clip_pytorch_model.bin",
        lambda path: torch.save(embedder.model.state_dict(), path),
    )
    loaded = ClipEmbedder(clip_settings(clip_model=tiny_clip_name, clip_pretrained="tiny_tag"))
    assert loaded.model_id == f"clip:{tiny_clip_name}@tiny_tag"
    assert tuple(open_clip.get_model_preprocess_cfg(loaded.model)["mean"]) == mean
    np.testing.assert_array_equal(loaded.embed_texts(TEXTS), embedder.embed_texts(TEXTS))
    # Same weights, different normalisation: the image vectors must differ.
    batch = random_batch(2, 32)
    assert not np.allclose(loaded.embed_arrays(batch), embedder.embed_arrays(batch), atol=1e-3)
