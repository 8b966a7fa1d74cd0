"""fastai fine-tuning on real Fashion-MNIST photos: one short CPU run per mode."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from winnow.datasets import load_fashion_mnist
from winnow.errors import ModelError
from winnow.learn.trainer import FineTunedNetwork, FitOptions, fine_tune

KEEP = ("Trouser", "Sneaker", "Bag")
FAST = FitOptions(epochs=1, image_size=64, batch_size=16, min_steps=8)  # a short CPU run


@pytest.fixture(scope="module")
def photos():
    images, labels, names = load_fashion_mnist("train", limit=600)
    rows = [i for i in range(len(labels)) if names[labels[i]] in KEEP][:100]
    return [Image.fromarray(images[i]) for i in rows], [[names[labels[i]]] for i in rows]


def test_single_label_learns_and_round_trips(photos, tmp_path):
    images, labels = photos
    net = fine_tune(
        images[:70],
        labels[:70],
        classes=KEEP,
        multi_label=False,
        valid_idx=range(60, 70),
        options=FAST,
    )
    probs = net.predict_proba(images[70:])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    accuracy = np.mean(
        [KEEP[k] == row[0] for k, row in zip(probs.argmax(1), labels[70:], strict=True)]
    )
    assert accuracy > 0.5  # chance is 1/3; 60 photos and one epoch at 64 px
    net.save(tmp_path / "net")
    again = FineTunedNetwork.load(tmp_path / "net")
    assert again.classes == KEEP and not again.multi_label
    np.testing.assert_allclose(again.predict_proba(images[70:]), probs, atol=1e-6)


def test_multi_label_gives_independent_probabilities(photos):
    images, labels = photos
    group = {"Trouser": "clothing", "Sneaker": "footwear", "Bag": "accessory"}
    multi = [[row[0], group[row[0]]] for row in labels[:24]]
    classes = (*KEEP, "clothing", "footwear", "accessory")
    net = fine_tune(images[:24], multi, classes=classes, multi_label=True, options=FAST)
    probs = net.predict_proba(images[40:50])
    assert probs.shape == (10, 6) and ((probs >= 0) & (probs <= 1)).all()
    assert not np.allclose(probs.sum(axis=1), 1.0)  # sigmoids, not a softmax


def test_bad_labels_and_unknown_architectures_are_refused(photos):
    images, labels = photos
    with pytest.raises(ValueError, match="does not fit classes"):
        fine_tune(
            images[:4],
            [["Trouser"], ["Coat"], ["Bag"], ["Bag"]],
            classes=KEEP,
            multi_label=False,
            options=FAST,
        )
    with pytest.raises(ModelError, match="no_such_arch"):
        fine_tune(
            images[:4],
            labels[:4],
            classes=KEEP,
            multi_label=False,
            options=FitOptions(arch="no_such_arch", image_size=64),
        )
