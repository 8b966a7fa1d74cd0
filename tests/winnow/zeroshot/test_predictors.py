"""The zero-shot predictors: CLIP through a real checkpoint file, ImageNet on real photos."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from winnow.errors import WeightsUnavailableError
from winnow.labelstudio.controls.parse import LabelConfigError, parse_label_config
from winnow.models import prepare_image
from winnow.zeroshot import make_predictor


@pytest.fixture
def clip(make_settings, tiny_clip_checkpoint):
    name, checkpoint = tiny_clip_checkpoint
    embedding = {
        "kind": "clip",
        "clip_model": name,
        "clip_checkpoint": checkpoint,
        "clip_pretrained": None,
    }
    templates = ["a photo of a {}.", "a drawing of a {}."]
    return make_predictor(
        make_settings(embedding=embedding, backend={"prompt_templates": templates})
    )


def features(predictor, photo_dir, names):
    model = predictor.feature_model
    arrays = [
        prepare_image(Image.open(photo_dir / n).convert("RGB"), model.input_spec) for n in names
    ]
    return model.embed_arrays(np.stack(arrays))


def test_clip_heads_average_the_template_ensemble(clip, make_config):
    [control] = parse_label_config(make_config('value="cat"', 'value="Dog" hint="puppy"'))
    head = clip.class_head(control)
    assert head.shape == (2, clip.feature_model.dim)
    np.testing.assert_allclose(np.linalg.norm(head, axis=1), 1.0, atol=1e-5)
    texts = clip.feature_model.embed_texts(["a photo of a puppy.", "a drawing of a puppy."])
    mean = texts.mean(axis=0)
    np.testing.assert_allclose(head[1], mean / np.linalg.norm(mean), atol=1e-5)
    assert clip.describe()["model"].startswith("clip:winnow-test-tiny-clip@sha256:")


def test_clip_probabilities_are_a_softmax_of_scaled_cosines(clip, make_config, photo_dir):
    [control] = parse_label_config(make_config('value="cat"', 'value="coffee"', 'value="man"'))
    head = clip.class_head(control)
    feats = features(clip, photo_dir, ["chelsea.jpg", "coffee.png", "astronaut.jpg"])
    probs = clip.probabilities(feats, head, multiple=False)
    assert probs.shape == (3, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    logits = clip.feature_model.logit_scale * feats @ head.T
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, expected, rtol=1e-4)


def test_missing_clip_checkpoint_is_a_clear_error(make_settings, tiny_clip_checkpoint, tmp_path):
    name, _ = tiny_clip_checkpoint
    settings = make_settings(
        embedding={"kind": "clip", "clip_model": name, "clip_checkpoint": tmp_path / "nope.pt"}
    )
    with pytest.raises(WeightsUnavailableError, match="WINNOW_EMBEDDING__CLIP_CHECKPOINT"):
        make_predictor(settings)


def test_imagenet_recognises_real_photos(imagenet_predictor, cat_coffee, photo_dir):
    [control] = parse_label_config(cat_coffee)
    head = imagenet_predictor.class_head(control)
    feats = features(imagenet_predictor, photo_dir, ["chelsea.jpg", "coffee.png"])
    assert feats.shape == (2, 1000)
    probs = imagenet_predictor.probabilities(feats, head, multiple=False)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert probs.argmax(axis=1).tolist() == [0, 1]
    assert probs[0, 0] > 0.8 and probs[1, 1] > 0.8
    absolute = imagenet_predictor.probabilities(feats, head, multiple=True)
    assert (absolute <= probs + 1e-6).all()  # multiple choice is not renormalised
    np.testing.assert_allclose(absolute[0, 0], feats[0, 281:286].sum(), rtol=1e-5)


def test_unmapped_classes_share_the_rest_and_are_reported(
    imagenet_predictor, make_config, photo_dir
):
    [control] = parse_label_config(make_config('value="cat"', 'value="other"', 'value="misc"'))
    head = imagenet_predictor.class_head(control)
    assert head.unmapped == ("other", "misc")
    assert "other" in imagenet_predictor.warnings(head)[0]
    feats = features(imagenet_predictor, photo_dir, ["chelsea.jpg", "astronaut.jpg"])
    probs = imagenet_predictor.probabilities(feats, head, multiple=True)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs[:, 1], probs[:, 2])
    assert probs[0].argmax() == 0 and probs[1].argmax() != 0  # the astronaut is no cat


def test_a_synset_claimed_twice_goes_to_the_narrower_class(imagenet_predictor, make_config):
    [control] = parse_label_config(make_config('value="cat"', 'value="tabby"'))
    weights = imagenet_predictor.class_head(control).weights
    assert weights[281].tolist() == [0.0, 1.0]  # tabby
    assert np.flatnonzero(weights[:, 0]).tolist() == [282, 283, 284, 285]


def test_equally_narrow_claims_share_and_nothing_is_counted_twice(imagenet_predictor, make_config):
    [control] = parse_label_config(make_config('value="camel"', 'value="dromedary"', 'value="cat"'))
    head = imagenet_predictor.class_head(control)
    assert head.unmapped == ()
    assert head.weights[354].tolist() == [0.5, 0.5, 0.0]  # both are "Arabian camel"
    assert head.weights.sum(axis=1).max() == pytest.approx(1.0)


def test_imagenet_refuses_configs_it_cannot_see(imagenet_predictor, make_config):
    [control] = parse_label_config(make_config('value="giraffe"', 'value="astronaut"'))
    with pytest.raises(LabelConfigError, match="predicted_values"):
        imagenet_predictor.class_head(control)
