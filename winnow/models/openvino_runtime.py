"""The ImageNet backbone on OpenVINO: the same network, about 3x faster than torch on a CPU.

On 2 shared cores EfficientNet-Lite0 ran at 44-54 img/s in OpenVINO fp32 against 10-11 in
torch, with embeddings equal to 1e-6 cosine. Torch stays for training, Grad-CAM and CUDA;
this module only serves inference on the CPU.

The torch module is wrapped so the exported graph does everything after decoding: uint8 NHWC
in, NCHW float, normalisation, the network, then two outputs, the unit-length embedding and
the ImageNet softmax. Converting takes about 14 s, so the result (OpenVINO IR, fp32) is saved
under the model cache, in a folder named by the hash of the weights, the input size and the
OpenVINO version: a later run only reads it (0.1 s). A lock serialises the export and a
staged folder renamed into place means a reader never sees half an IR.

OpenVINO sends usage telemetry on import unless a consent file says no; Winnow never lets it
run (:func:`load_openvino`).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from winnow.atomic import fsync_tree
from winnow.errors import ModelError
from winnow.locks import hold

log = logging.getLogger(__name__)

Runtime = Literal["torch", "openvino"]
IR_FORMAT = 1  # bump when the exported graph changes meaning (inputs, outputs, wrapper)
_EXPORT_WAIT_S = 600.0  # another process exporting the same model: wait, then reuse its IR
_CHECK_ATOL = 1e-3  # exported vs torch outputs, relative to their scale
_REMEMBER = 4  # converted models kept in memory, by key
_CONVERTED: dict[str, Any] = {}


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def cuda_available() -> bool:
    """Whether torch sees a GPU; the one device check :func:`resolve_runtime` makes."""
    return torch.cuda.is_available()


def resolve_runtime(setting: str) -> Runtime:
    """``auto``: OpenVINO on a CPU-only machine when installed; torch with a GPU (the CUDA path
    stays the default there) or without OpenVINO. ``torch``/``openvino`` are taken as given."""
    if setting == "torch":
        return "torch"
    if setting == "openvino":
        if not openvino_available():
            raise ModelError("embedding.runtime is 'openvino' but the openvino package is missing")
        return "openvino"
    if setting != "auto":
        raise ValueError(f"runtime must be auto, torch or openvino, got {setting!r}")
    return "torch" if cuda_available() or not openvino_available() else "openvino"


class _Exported(nn.Module):
    """What the IR computes: uint8 NHWC -> (unit embedding, ImageNet softmax)."""

    def __init__(self, model: nn.Module, mean_px: Sequence[float], std_px: Sequence[float]):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean_px, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("inv_std", 1.0 / torch.tensor(std_px).float().view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (x.permute(0, 3, 1, 2).float() - self.mean) * self.inv_std
        features = self.model.forward_head(self.model.forward_features(x), pre_logits=True)
        logits = self.model.get_classifier()(features)
        return nn.functional.normalize(features, dim=-1), logits.softmax(dim=-1)


@dataclass(frozen=True)
class ExportSpec:
    """Everything the IR depends on; :meth:`key` names its cache folder."""

    model: nn.Module
    mean_px: tuple[float, ...]
    std_px: tuple[float, ...]
    size: int

    def key(self) -> str:
        openvino = load_openvino()
        digest = hashlib.sha256()
        meta = f"{IR_FORMAT}|{openvino.get_version()}|{self.size}|{self.mean_px}|{self.std_px}"
        digest.update(meta.encode())
        for name, tensor in self.model.state_dict().items():
            digest.update(f"{name}|{tuple(tensor.shape)}|{tensor.dtype}".encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:32]


class OpenVinoBackbone:
    """A compiled IR; runs ``(N, S, S, 3)`` uint8 batches, ``batch_size`` at a time."""

    def __init__(self, compiled: Any, *, batch_size: int, dim: int, num_classes: int) -> None:
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self.lock = threading.Lock()  # one request: API handlers may call from several threads
        self.batch_size, self.dim, self.num_classes = batch_size, dim, num_classes

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(embeddings ``(N, dim)``, probabilities ``(N, num_classes)``), float32."""
        embeddings = [np.zeros((0, self.dim), np.float32)]
        probabilities = [np.zeros((0, self.num_classes), np.float32)]
        for start in range(0, len(batch), self.batch_size):
            chunk = np.ascontiguousarray(batch[start : start + self.batch_size])
            with self.lock:
                self.request.infer({0: chunk})
                embeddings.append(self.request.get_output_tensor(0).data.copy())
                probabilities.append(self.request.get_output_tensor(1).data.copy())
        return np.concatenate(embeddings), np.concatenate(probabilities)


def compile_backbone(
    spec: ExportSpec,
    *,
    cache_dir: Path | None,
    threads: int | None,
    batch_size: int,
    dim: int,
    num_classes: int,
    precision: str = "fp32",
) -> OpenVinoBackbone:
    """The backbone compiled for the CPU, from the cached IR (exported first when missing).

    Without ``cache_dir`` (settings built without a data folder) nothing is written: the
    model is converted in memory, once per process."""
    openvino = load_openvino()
    core = openvino.Core()
    if cache_dir is None:
        model = export_ir(spec)
    else:
        model = core.read_model(cached_ir(spec, Path(cache_dir)))
    compiled = core.compile_model(model, "CPU", cpu_config(threads, precision))
    return OpenVinoBackbone(compiled, batch_size=batch_size, dim=dim, num_classes=num_classes)


def cpu_config(threads: int | None, precision: str = "fp32") -> dict[str, Any]:
    """fp32 unless asked: on CPUs with AMX/AVX512-BF16 OpenVINO would otherwise pick bf16 and
    move embeddings (``embedding.precision`` chooses, and names the store key). One stream,
    latency hint: the caller sends one batch at a time. No core pinning: beside the decode
    workers (and on shared hosts) a pinned thread cannot move off a busy core; 300 JPEGs on 2
    loaded cores ran 25 img/s unpinned vs 24 pinned, twice each."""
    return {
        "INFERENCE_PRECISION_HINT": {"fp32": "f32", "bf16": "bf16"}[precision],
        "PERFORMANCE_HINT": "LATENCY",
        "NUM_STREAMS": 1,
        "ENABLE_CPU_PINNING": False,
        "INFERENCE_NUM_THREADS": int(threads or default_threads()),
    }


def default_threads() -> int:
    """Half the cores: the feature workers decode on the rest (one per core while embedding).

    Measured on 2 loaded cores, 300 JPEGs of 0.8 Mpx: 2 decode workers + 1 inference thread
    20 img/s, 1 worker + 2 threads 16, 2 workers + 2 threads 14 (OpenVINO's threads spin while
    waiting and then fight the decoders); torch's best split (1 + 2) gave 5.7."""
    return max(1, (os.cpu_count() or 1) // 2)


def cached_ir(spec: ExportSpec, cache_dir: Path) -> Path:
    """Path of the IR's ``model.xml``, exporting it (once, under a lock) when absent."""
    folder = cache_dir / "openvino" / spec.key()
    xml = folder / "model.xml"
    if xml.is_file():
        return xml
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = folder.with_name(folder.name + ".lock")
    with hold(lock, what="OpenVINO export", wait_s=_EXPORT_WAIT_S):
        if xml.is_file():  # another process exported it while we waited
            return xml
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            openvino = load_openvino()
            openvino.save_model(export_ir(spec), staging / "model.xml", compress_to_fp16=False)
            fsync_tree(staging)
            shutil.rmtree(folder, ignore_errors=True)  # an incomplete leftover, if any
            os.rename(staging, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    log.info("exported the backbone to OpenVINO IR at %s", folder)
    return xml


def export_ir(spec: ExportSpec) -> Any:
    """Convert the torch module to an OpenVINO model and check it gives torch's outputs.

    Remembered per process by key: another data folder (every test, a second store) then
    saves the same model instead of converting it again."""
    key = spec.key()
    if key not in _CONVERTED:
        while len(_CONVERTED) >= _REMEMBER:
            _CONVERTED.pop(next(iter(_CONVERTED)))
        _CONVERTED[key] = _convert(spec)
    return _CONVERTED[key]


def _convert(spec: ExportSpec) -> Any:
    openvino = load_openvino()

    wrapper = _Exported(
        copy.deepcopy(spec.model).to(memory_format=torch.contiguous_format).eval(),
        spec.mean_px,
        spec.std_px,
    ).eval()
    example = torch.zeros(1, spec.size, spec.size, 3, dtype=torch.uint8)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace's deprecation notice
        model = openvino.convert_model(
            wrapper,
            example_input=example,
            input=[openvino.PartialShape([-1, spec.size, spec.size, 3])],
        )
    _check_export(model, wrapper, spec.size)
    return model


def _check_export(model: Any, wrapper: nn.Module, size: int) -> None:
    """Refuse an IR whose outputs differ from torch's (a conversion bug must not go silent)."""
    openvino = load_openvino()

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, size, size, 3), dtype=np.uint8)
    compiled = openvino.Core().compile_model(model, "CPU", cpu_config(None))
    got = compiled(x)
    with torch.no_grad():
        expected = wrapper(torch.from_numpy(x))
    for index, want in enumerate(expected):
        want = want.numpy()
        scale = float(np.abs(want).max()) or 1.0
        diff = float(np.abs(got[index] - want).max())
        if diff > _CHECK_ATOL * scale:
            raise ModelError(
                f"the OpenVINO export of the backbone differs from torch (max {diff:.2g}); "
                "set embedding.runtime: torch"
            )


def load_openvino() -> Any:
    """``import openvino`` with its telemetry switched off; every use here goes through it.

    Importing ``openvino`` imports its model converter, which at once starts an
    ``openvino_telemetry`` session and sends an "import" event to Google Analytics, and
    ``convert_model`` sends more; unless a consent file in the home folder says no, it does
    not ask first. The converter falls back to its own no-op stub when the telemetry package
    cannot be imported, so the package is made unimportable before the first import, and
    the stub is put in its place should OpenVINO have been imported already."""
    if "openvino" not in sys.modules:
        sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    import openvino
    from openvino.tools.ovc import telemetry_stub

    for name in ("convert_impl", "telemetry_utils", "utils", "main"):
        module = sys.modules.get(f"openvino.tools.ovc.{name}")
        if module is not None and getattr(module, "tm", telemetry_stub) is not telemetry_stub:
            module.tm = telemetry_stub
    real = sys.modules.get("openvino_telemetry")
    if real is not None:  # imported before us: silence the live session too
        real.Telemetry.send_event = telemetry_stub.Telemetry.send_event
    return openvino
