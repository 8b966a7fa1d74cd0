"""Embedders move to another device (a GPU in a Ray actor); inputs and outputs follow."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from winnow.models import prepare_image

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU on this machine"),
    ),
]


@pytest.mark.parametrize("device", DEVICES)
def test_vectors_do_not_depend_on_the_device(backbone, photos, device):
    batch = np.stack([prepare_image(p, backbone.input_spec) for p in photos.values()])
    before = backbone.embed_arrays(batch)
    try:
        assert backbone.to(device) is backbone and backbone.device.type == device
        after = backbone.embed_arrays(batch)
    finally:
        backbone.to("cpu")
    assert after.dtype == np.float32 and after.shape == before.shape
    np.testing.assert_allclose(after, before, atol=1e-4)
    assert backbone.device.type == "cpu" and next(backbone.model.parameters()).device.type == "cpu"
