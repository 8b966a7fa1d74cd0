"""The per-image work done in worker processes: read, hash, decode, measure, prepare.

Workers never import torch: they hand the main process a small uint8 array per image, which
it embeds in batches. Each worker opens the feature store read-only to skip content that is
already known, so duplicate files and re-runs cost one sha256 each.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from winnow.config import Settings
from winnow.errors import ImageError
from winnow.features.measure import make_thumbnail, measure_image
from winnow.features.walk import SourceItem, local_stat
from winnow.imageio import ImageReader, decode_image
from winnow.models.embedder import InputSpec, prepare_image
from winnow.store.feature_store import FeatureStore, ImageRecord, SourceRecord


@dataclass(frozen=True)
class WorkerConfig:
    settings: Settings
    model_id: str | None  # None: no embedding wanted
    input_spec: InputSpec | None
    trusted_roots: tuple[Path, ...] = ()  # folders the operator named; data gets io.local_roots

    @property
    def local_roots(self) -> tuple[Path, ...]:
        """Every folder whose files may be read (and stat'ed) in this run."""
        return (*self.settings.io.local_roots, *self.trusted_roots)


@dataclass(frozen=True)
class WorkResult:
    source: SourceRecord
    image: ImageRecord | None  # None when the bytes could not be read, or content was known
    embed_input: np.ndarray | None  # uint8 (S, S, 3) when an embedding is still missing
    cached: bool  # content (and embedding, if wanted) was already in the store


class ItemProcessor:
    """Holds one reader and one read-only store connection per process."""

    def __init__(self, config: WorkerConfig) -> None:
        s = config.settings
        self.config = config
        self.reader = ImageReader(s.io, s.label_studio, s.s3, trusted_roots=config.trusted_roots)
        self.store = FeatureStore(s.store_path, readonly=True) if s.store_path.exists() else None

    def __call__(self, item: SourceItem) -> WorkResult:
        try:
            data = self.reader.read(item.uri)
        except ImageError as exc:
            return WorkResult(self._source(item, None, None, exc), None, None, cached=False)
        except Exception as exc:  # noqa: BLE001 - one bad item must never stop the batch
            err = ImageError(item.uri, f"unexpected {type(exc).__name__}: {exc}")
            err.kind = "internal_error"
            return WorkResult(self._source(item, None, None, err), None, None, cached=False)
        sha = hashlib.sha256(data).hexdigest()
        source = self._source(item, sha, len(data), None)
        if self._is_known(sha):
            return WorkResult(source, None, None, cached=True)
        image, embed_input = self._compute(sha, data, item.uri)
        return WorkResult(source, image, embed_input, cached=False)

    def _source(
        self, item: SourceItem, sha: str | None, size: int | None, exc: ImageError | None
    ) -> SourceRecord:
        stat = local_stat(item.uri, self.config.local_roots)
        return SourceRecord(
            uri=item.uri,
            sha256=sha,
            size=size,
            mtime_ns=stat[1] if stat else None,
            label=item.label,
            split=item.split,
            error_kind=exc.kind if exc else None,
            error=exc.reason if exc else None,
        )

    def _is_known(self, sha: str) -> bool:
        return self.store is not None and bool(self.store.complete([sha], self.config.model_id))

    def _compute(self, sha: str, data: bytes, uri: str) -> tuple[ImageRecord, np.ndarray | None]:
        s = self.config.settings
        spec = self.config.input_spec
        min_side = max(s.features.thumb_size, spec.size if spec else 0)
        try:
            decoded = decode_image(data, uri, max_pixels=s.io.max_pixels, min_side=min_side)
            thumb = make_thumbnail(decoded.image, s.features.thumb_size)
            measurements = measure_image(thumb)
            embed_input = prepare_image(decoded.image, spec) if spec else None
        except ImageError as exc:
            return ImageRecord(sha, len(data), error_kind=exc.kind, error=exc.reason), None
        except Exception as exc:  # noqa: BLE001 - recorded, never raised
            reason = f"unexpected {type(exc).__name__}: {exc}"
            return ImageRecord(sha, len(data), error_kind="internal_error", error=reason), None
        record = ImageRecord(
            sha256=sha,
            n_bytes=len(data),
            format=decoded.format,
            width=decoded.width,
            height=decoded.height,
            mode=decoded.mode,
            has_exif=decoded.has_exif,
            exif_orientation=decoded.exif_orientation,
            has_alpha=decoded.has_alpha,
            n_frames=decoded.n_frames,
            measurements=measurements,
        )
        return record, embed_input


_PROCESSOR: ItemProcessor | None = None


def init_worker(config: WorkerConfig) -> None:
    """Process-pool initializer: build the per-process reader and store connection."""
    global _PROCESSOR
    _PROCESSOR = ItemProcessor(config)


def process_chunk(items: list[SourceItem]) -> list[WorkResult]:
    assert _PROCESSOR is not None, "init_worker was not called"
    return [_PROCESSOR(item) for item in items]
