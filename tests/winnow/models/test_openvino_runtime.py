"""The backbone on OpenVINO: same vectors as torch, an IR cached by weights, torch on GPUs."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import timm
import torch

from winnow.config import EmbeddingSettings, Settings
from winnow.imageio import decode_image
from winnow.models import BackboneEmbedder, prepare_image
from winnow.models import openvino_runtime as ovr

pytest.importorskip("openvino")


def _settings(tmp_path: Path, **embedding) -> EmbeddingSettings:
    """Embedding settings whose model cache is ``tmp_path/models`` (as Settings places it)."""
    return Settings(data_dir=tmp_path, embedding=EmbeddingSettings(**embedding)).embedding


@pytest.fixture(scope="module")
def both_runtimes(tmp_path_factory) -> tuple[BackboneEmbedder, BackboneEmbedder]:
    cache = tmp_path_factory.mktemp("data")
    return (
        BackboneEmbedder(_settings(cache, runtime="torch")),
        BackboneEmbedder(_settings(cache, runtime="openvino")),
    )


def _real_batch(folder: Path, spec) -> np.ndarray:
    arrays = []
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        decoded = decode_image(data, str(path), max_pixels=50_000_000, min_side=spec.size)
        arrays.append(prepare_image(decoded.image, spec))
    return np.stack(arrays)


def test_openvino_embeddings_match_torch_on_real_images(both_runtimes, real_images_dir, photos):
    torch_model, ov_model = both_runtimes
    assert (torch_model.runtime, ov_model.runtime) == ("torch", "openvino")
    batch = _real_batch(real_images_dir, ov_model.input_spec)
    extra = [prepare_image(p, ov_model.input_spec) for p in photos.values()]
    batch = np.concatenate([batch, np.stack(extra)])
    expected, got = torch_model.embed_arrays(batch), ov_model.embed_arrays(batch)
    assert got.dtype == np.float32 and got.shape == expected.shape == (len(batch), 1280)
    cosines = (expected * got).sum(axis=1)
    assert cosines.min() >= 0.999, cosines
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_openvino_imagenet_probabilities_match_torch(both_runtimes, photos):
    torch_model, ov_model = both_runtimes
    batch = np.stack([prepare_image(p, ov_model.input_spec) for p in photos.values()])
    expected, got = torch_model.classify_arrays(batch), ov_model.classify_arrays(batch)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    names = [ov_model.class_names[i] for i in got.argmax(axis=1)]
    assert "espresso" in names[list(photos).index("coffee")]


def test_batches_larger_than_batch_size_and_empty(tmp_path, both_runtimes, random_batch):
    _, ov_model = both_runtimes
    batch = random_batch(ov_model.batch_size + 3, ov_model.input_spec.size)
    whole = ov_model.embed_arrays(batch)
    np.testing.assert_allclose(whole[-3:], ov_model.embed_arrays(batch[-3:]), atol=1e-5)
    empty = ov_model.embed_arrays(batch[:0])
    assert empty.shape == (0, ov_model.dim)
    with pytest.raises(ValueError):
        ov_model.embed_arrays(batch[:, :10])


def test_auto_picks_torch_when_cuda_is_visible(monkeypatch):
    monkeypatch.setattr(ovr, "cuda_available", lambda: True)
    assert ovr.resolve_runtime("auto") == "torch"
    assert ovr.resolve_runtime("openvino") == "openvino"  # an explicit choice is kept
    monkeypatch.setattr(ovr, "cuda_available", lambda: False)
    assert ovr.resolve_runtime("auto") == "openvino"
    assert ovr.resolve_runtime("torch") == "torch"
    monkeypatch.setattr(ovr, "openvino_available", lambda: False)
    assert ovr.resolve_runtime("auto") == "torch"
    with pytest.raises(Exception, match="openvino package is missing"):
        ovr.resolve_runtime("openvino")


def test_moving_to_another_device_falls_back_to_torch(both_runtimes):
    _, ov_model = both_runtimes
    moved = copy.copy(ov_model)
    moved.model = copy.deepcopy(ov_model.model)  # the fixture's model stays on the CPU
    moved.to("meta")  # any device but the CPU; no GPU needed to check the switch
    assert moved.runtime == "torch" and ov_model.runtime == "openvino"


# -- The IR cache, on a tiny timm network so each conversion takes about a second ----------


def _tiny_spec(seed: int = 0) -> ovr.ExportSpec:
    torch.manual_seed(seed)
    model = timm.create_model("test_efficientnet", pretrained=False).eval()
    return ovr.ExportSpec(model, (127.0,) * 3, (128.0,) * 3, 64)


@pytest.fixture()
def count_exports(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = ovr.export_ir

    def counting(spec):
        calls.append(spec.key())
        return real(spec)

    monkeypatch.setattr(ovr, "export_ir", counting)
    return calls


def _compile(spec: ovr.ExportSpec, cache: Path) -> ovr.OpenVinoBackbone:
    with torch.no_grad():
        x = torch.zeros(1, 3, spec.size, spec.size)
        dim = spec.model.forward_head(spec.model.forward_features(x), pre_logits=True).shape[-1]
    return ovr.compile_backbone(
        spec, cache_dir=cache, threads=1, batch_size=4, dim=int(dim), num_classes=1000
    )


def test_cached_ir_is_reused_and_weights_change_invalidates_it(tmp_path, count_exports):
    spec = _tiny_spec()
    _compile(spec, tmp_path)
    [folder] = [p for p in (tmp_path / "openvino").iterdir() if p.is_dir()]
    stamp = (folder / "model.xml").stat().st_mtime_ns
    _compile(spec, tmp_path)
    assert len(count_exports) == 1  # the second load read the IR
    assert (folder / "model.xml").stat().st_mtime_ns == stamp
    changed = _tiny_spec()
    with torch.no_grad():
        next(changed.model.parameters()).add_(0.01)
    _compile(changed, tmp_path)
    assert len(count_exports) == 2 and count_exports[0] != count_exports[1]
    folders = sorted(p.name for p in (tmp_path / "openvino").iterdir() if p.is_dir())
    assert len(folders) == 2 and not [p for p in folders if p.startswith(".")]


def test_two_concurrent_loads_export_once(tmp_path, count_exports):
    spec = _tiny_spec(seed=1)
    paths: list[Path] = []
    errors: list[BaseException] = []

    def load() -> None:
        try:
            paths.append(ovr.cached_ir(spec, tmp_path))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(paths) == 2 and paths[0] == paths[1]
    assert len(count_exports) == 1
    assert (paths[0].with_suffix(".bin")).stat().st_size > 0


def test_exported_ir_gives_the_torch_outputs(tmp_path, random_batch):
    spec = _tiny_spec(seed=2)
    compiled = _compile(spec, tmp_path)
    batch = random_batch(5, 64)
    embeddings, probabilities = compiled.run(batch)
    with torch.no_grad():
        x = (torch.from_numpy(batch).permute(0, 3, 1, 2).float() - 127.0) / 128.0
        features = spec.model.forward_head(spec.model.forward_features(x), pre_logits=True)
        want = torch.nn.functional.normalize(features, dim=-1).numpy()
        probs = spec.model(x).softmax(-1).numpy()
    np.testing.assert_allclose(embeddings, want, atol=1e-4)
    np.testing.assert_allclose(probabilities, probs, atol=1e-5)


_TELEMETRY_PROBE = """
import sys, timm, torch
from winnow.models import openvino_runtime as ovr
torch.manual_seed(3)
model = timm.create_model("test_efficientnet").eval()
ovr.export_ir(ovr.ExportSpec(model, (127.0,) * 3, (128.0,) * 3, 64))
print(sys.modules.get("openvino_telemetry"))
"""


def test_importing_and_converting_start_no_telemetry(tmp_path):
    """OpenVINO's telemetry, when it runs, writes a client id under ``~/intel`` and posts
    events; in a fresh interpreter with an empty home, importing and converting must not."""
    env = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", _TELEMETRY_PROBE], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "None"
    assert not (tmp_path / "intel").exists()


def test_bf16_embeddings_stay_close_to_fp32_under_their_own_store_key(
    both_runtimes, tmp_path, real_images_dir, photos
):
    """bf16 (AMX / AVX512-BF16 CPUs) trades a little precision for speed: each vector stays
    within cosine 0.99 of fp32, the nearest neighbours agree, and the model id differs, so
    a store never compares the two. On a CPU without bf16 OpenVINO runs fp32 instead, which
    passes the same checks."""
    from winnow.models import make_embedder
    from winnow.models.embedder import known_model_id

    _, fp32 = both_runtimes
    settings = _settings(tmp_path, runtime="openvino", precision="bf16")
    bf16 = BackboneEmbedder(settings)
    assert bf16.model_id == f"{fp32.model_id}+bf16" == known_model_id(settings)
    assert make_embedder(settings, lazy=True).model_id == bf16.model_id
    batch = _real_batch(real_images_dir, fp32.input_spec)
    batch = np.concatenate(
        [batch, np.stack([prepare_image(p, fp32.input_spec) for p in photos.values()])]
    )
    a, b = fp32.embed_arrays(batch), bf16.embed_arrays(batch)
    assert (a * b).sum(axis=1).min() >= 0.99
    np.testing.assert_array_equal(
        np.argsort(-(a @ a.T), axis=1)[:, 1], np.argsort(-(b @ b.T), axis=1)[:, 1]
    )
    top_fp32 = fp32.classify_arrays(batch).argmax(axis=1)
    assert (bf16.classify_arrays(batch).argmax(axis=1) == top_fp32).mean() >= 0.9


def test_bf16_refuses_the_torch_runtime(tmp_path):
    from winnow.errors import ModelError

    with pytest.raises(ModelError, match="OpenVINO runtime only"):
        BackboneEmbedder(_settings(tmp_path, runtime="torch", precision="bf16"))
