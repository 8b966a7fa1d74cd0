"""Shared batching for torch image embedders: uint8 arrays in, unit float32 rows out.

Normalisation happens on the torch side, so decode workers ship compact uint8 arrays and never
import torch. The NHWC -> NCHW permute is a view with channels-last strides; we either keep
that layout (when the model was converted to channels_last) or copy to contiguous NCHW.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from winnow.models.embedder import InputSpec, prepare_image


class TorchImageEmbedder:
    """Base of the torch embedders; subclasses implement :meth:`encode_tensor`."""

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        model_id: str,
        dim: int,
        input_spec: InputSpec,
        mean_px: Sequence[float],
        std_px: Sequence[float],
        batch_size: int = 32,
        threads: int | None = None,
        channels_last: bool = False,
    ) -> None:
        if threads is not None:
            torch.set_num_threads(threads)  # process-wide: torch has no per-model setting
        self.model = model.eval()
        self.model_id = model_id
        self.dim = dim
        self.input_spec = input_spec
        self.batch_size = batch_size
        self.channels_last = channels_last
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self._mean = torch.tensor(mean_px, dtype=torch.float32).view(1, 3, 1, 1)
        self._inv_std = 1.0 / torch.tensor(std_px, dtype=torch.float32).view(1, 3, 1, 1)
        self.device = torch.device("cpu")

    def to(self, device: str | torch.device) -> TorchImageEmbedder:
        """Move the model to ``device`` (e.g. ``"cuda"`` in a GPU Ray actor); inputs follow."""
        self.device = torch.device(device)
        self.model = self.model.to(self.device)
        self._mean, self._inv_std = self._mean.to(self.device), self._inv_std.to(self.device)
        return self

    def encode_tensor(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised float ``(n, 3, S, S)`` -> raw features ``(n, dim)``."""
        raise NotImplementedError

    def embed_arrays(self, batch: np.ndarray) -> np.ndarray:
        """uint8 ``(N, S, S, 3)`` -> float32 ``(N, dim)``, rows of unit L2 norm."""
        return self._map_batches(
            batch, lambda x: F.normalize(self.encode_tensor(x).float(), dim=-1), width=self.dim
        )

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Prepare and embed PIL images, ``batch_size`` at a time, to bound memory."""
        chunks = [np.zeros((0, self.dim), np.float32)]
        for start in range(0, len(images), self.batch_size):
            part = images[start : start + self.batch_size]
            arrays = np.stack([prepare_image(image, self.input_spec) for image in part])
            chunks.append(self.embed_arrays(arrays))
        return np.concatenate(chunks)

    def _map_batches(
        self, batch: np.ndarray, fn: Callable[[torch.Tensor], torch.Tensor], *, width: int
    ) -> np.ndarray:
        """Run ``fn`` over ``batch`` in chunks of ``batch_size`` without autograd."""
        batch = self._check_batch(batch)
        outputs = [np.zeros((0, width), np.float32)]
        with torch.inference_mode():
            for start in range(0, len(batch), self.batch_size):
                x = self.to_tensor(batch[start : start + self.batch_size])
                outputs.append(fn(x).to(torch.float32).cpu().numpy())
        return np.concatenate(outputs)

    def _check_batch(self, batch: np.ndarray) -> np.ndarray:
        size = self.input_spec.size
        if not isinstance(batch, np.ndarray) or batch.dtype != np.uint8:
            raise TypeError(f"expected a uint8 numpy array, got {getattr(batch, 'dtype', batch)!r}")
        if batch.ndim != 4 or batch.shape[1:] != (size, size, 3):
            raise ValueError(f"expected shape (N, {size}, {size}, 3), got {batch.shape}")
        # torch.from_numpy needs a writable, C-ordered buffer; copies only when it must.
        return np.require(batch, np.uint8, ["C_CONTIGUOUS", "WRITEABLE"])

    def to_tensor(self, chunk: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(chunk).to(self.device).permute(0, 3, 1, 2).float()  # NHWC strides
        x = (x - self._mean) * self._inv_std
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        return x.contiguous(memory_format=fmt)
