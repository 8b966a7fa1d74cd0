"""The fp32 OpenVINO runtime really runs OpenVINO, not torch under an OpenVINO label.

A regression guard: the IR was once compiled only for precisions other than fp32, so the
default CPU path (runtime auto/openvino, precision fp32) silently ran torch."""

from __future__ import annotations

import numpy as np
import pytest

from winnow.config import EmbeddingSettings, Settings
from winnow.models import BackboneEmbedder, prepare_image

pytest.importorskip("openvino")


def test_fp32_openvino_exports_and_runs_the_ir(tmp_path, photos):
    settings = Settings(
        data_dir=tmp_path, embedding=EmbeddingSettings(runtime="openvino", precision="fp32")
    ).embedding
    model = BackboneEmbedder(settings)
    assert model.runtime == "openvino"
    assert list((tmp_path / "models" / "openvino").glob("*/model.xml")), "no IR was exported"
    batch = np.stack([prepare_image(p, model.input_spec) for p in photos.values()])
    vectors = model.embed_arrays(batch)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
