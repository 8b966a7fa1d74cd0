"""The fine-tune schedule counts optimiser steps: a dozen images still get real training."""

from __future__ import annotations

import pytest
from PIL import Image

from winnow.datasets import load_fashion_mnist
from winnow.learn.trainer import FitOptions, fine_tune, plan_schedule


def test_small_sets_get_several_batches_and_the_minimum_steps():
    plan = plan_schedule(13, FitOptions(epochs=3, batch_size=16, min_steps=60, min_batches=4))
    assert plan.batch_size == 3 and plan.batches == 4  # not one batch of 13
    assert plan.steps >= 60 and plan.freeze_epochs >= 1 and plan.epochs >= 3
    assert plan.freeze_epochs < plan.epochs  # most of the steps train the whole network


@pytest.mark.parametrize("n", [2, 5, 13, 40, 100, 999, 5000])
def test_every_size_meets_the_floors(n):
    options = FitOptions(epochs=3, batch_size=16, min_steps=60, min_batches=4)
    plan = plan_schedule(n, options)
    assert 2 <= plan.batch_size <= 16 and plan.batches == n // plan.batch_size
    assert plan.steps >= 60 and plan.epochs >= 3
    assert plan.batches >= min(4, n // 2)


def test_large_sets_keep_the_epochs_asked_for():
    plan = plan_schedule(5000, FitOptions(epochs=3, batch_size=16))
    assert (plan.batch_size, plan.freeze_epochs, plan.epochs) == (16, 1, 3)
    with pytest.raises(ValueError, match="at least 2"):
        plan_schedule(1, FitOptions())


def test_a_dozen_images_take_the_planned_optimiser_steps():
    images, labels, names = load_fashion_mnist("train", limit=200)
    keep = ("Trouser", "Sneaker", "Bag", "Dress")
    rows = [i for i in range(len(labels)) if names[labels[i]] in keep][:13]
    options = FitOptions(epochs=1, image_size=32, batch_size=16, min_steps=8, min_batches=4)
    net = fine_tune(
        [Image.fromarray(images[i]) for i in rows],
        [[names[labels[i]]] for i in rows],
        classes=keep,
        multi_label=False,
        options=options,
    )
    assert net.schedule == plan_schedule(13, options)
    assert net.schedule.batches == 4  # the old rule made one batch of 13: 4 steps in all
    assert net.steps_taken == net.schedule.steps >= 8  # counted by fastai, not planned only
