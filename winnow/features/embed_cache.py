"""Image sources to embeddings, computed once per content and model.

Services that answer requests (the ML backend, the similarity API) get lists of image
addresses, not folders. :class:`EmbeddingCache` turns them into embedding rows through the
feature store: an address seen before maps to its recorded sha256 without a read (a URL's
content is taken as immutable, as in :mod:`winnow.features.extract`; a local file must have
the same size and mtime, and lie under ``local_roots``), content embedded before is a lookup,
and only new content is fetched, decoded and embedded. Reads and decodes run in threads (I/O
and Pillow release the GIL) while the model embeds the previous batch. One bad image never
fails the batch.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from winnow.errors import ImageError
from winnow.features.walk import is_remote, local_stat
from winnow.imageio import decode_image
from winnow.imageio.sources import LABEL_STUDIO_PREFIXES
from winnow.models.embedder import Embedder, InputSpec, prepare_image
from winnow.store.feature_store import FeatureStore, ImageRecord, SourceRecord

ReadFn = Callable[[str], bytes]


@dataclass
class EmbedResult:
    """Rows in the order of the requested sources; ``errors`` holds the unusable ones."""

    vectors: np.ndarray  # float32 (N, D); rows of failed sources are zero
    errors: dict[int, ImageError] = field(default_factory=dict)
    cache_hits: int = 0  # distinct sources answered from the store
    computed: int = 0  # distinct contents decoded and embedded now

    @property
    def ok(self) -> np.ndarray:
        """bool ``(N,)``: which rows hold a real embedding."""
        mask = np.ones(len(self.vectors), dtype=bool)
        mask[list(self.errors)] = False
        return mask


@dataclass
class _Loaded:
    """One source after a pool job: its content hash and prepared pixels, or what failed."""

    uri: str
    sha: str | None = None  # None: the bytes could not be read
    size: int = 0
    pixels: np.ndarray | None = None
    error: ImageError | None = None  # a read error (sha None) or a decode error (sha set)


@dataclass
class _Tally:
    hits: int = 0
    computed: int = 0


class EmbeddingCache:
    """Embeds image sources with ``embedder``, reading and filling ``store``.

    Not safe for concurrent calls (one store connection, one model): calls are serialised.
    """

    def __init__(
        self,
        store: FeatureStore,
        embedder: Embedder,
        *,
        max_pixels: int,
        threads: int = 8,
        batch_size: int = 32,
        local_roots: Sequence[Path] = (),
    ) -> None:
        """``local_roots``: where local sources may be reused from the store unread (the
        reader's roots); a local source elsewhere is always handed to ``read``, which
        refuses it."""
        self.store = store
        self.local_roots = tuple(local_roots)
        self.embedder = embedder
        self.max_pixels = max_pixels
        self.batch_size = batch_size
        self.threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="embed-io")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def embed_sources(self, sources: Sequence[str], read: ReadFn) -> EmbedResult:
        """Embedding rows for ``sources``; ``read`` fetches bytes (raising ImageError)."""
        with self._lock:
            return self._embed(list(sources), read)

    def _embed(self, sources: list[str], read: ReadFn) -> EmbedResult:
        unique = list(dict.fromkeys(sources))
        recorded = self.store.sources_by_uri(unique)
        shas = {
            u: rec.sha256 for u, rec in recorded.items() if _still_valid(u, rec, self.local_roots)
        }
        have = set(self.store.known_embeddings(shas.values(), self.embedder.model_id))
        to_read = [u for u in unique if shas.get(u) not in have]
        tally = _Tally(hits=len(unique) - len(to_read))
        errors: dict[str, ImageError] = {}
        for batch in self._loaded_batches(to_read, read):
            self._absorb(batch, recorded, shas, have, errors, tally)
        return self._assemble(sources, shas, errors, tally.hits, tally.computed)

    def _loaded_batches(self, uris: list[str], read: ReadFn) -> Iterator[list[_Loaded]]:
        """Batches of read-and-decoded sources, in order; the pool works ahead meanwhile.

        Decoding is speculative: content already embedded under another address is decoded
        for nothing, which is rare and cheaper than a second round trip through the pool.
        """
        spec = self.embedder.input_spec
        ahead: deque[Future[_Loaded]] = deque()
        pending = iter(uris)
        window = max(2 * self.batch_size, 2 * self.threads)
        while True:
            while len(ahead) < window and (uri := next(pending, None)) is not None:
                ahead.append(self._pool.submit(_load, uri, read, spec, self.max_pixels))
            if not ahead:
                return
            yield [ahead.popleft().result() for _ in range(min(self.batch_size, len(ahead)))]

    def _absorb(
        self,
        batch: list[_Loaded],
        recorded: dict[str, SourceRecord],
        shas: dict[str, str],
        have: set[str],
        errors: dict[str, ImageError],
        tally: _Tally,
    ) -> None:
        """Record, look up and embed one batch of freshly read sources."""
        model_id = self.embedder.model_id
        fetched = [item for item in batch if item.sha is not None]
        errors.update({item.uri: item.error for item in batch if item.sha is None})
        self._record_sources(fetched, recorded)
        have |= self.store.known_embeddings({item.sha for item in fetched} - have, model_id)
        known_bad = self.store.image_errors({item.sha for item in fetched} - have)
        todo: dict[str, np.ndarray] = {}
        bad: dict[str, _Loaded] = {}
        for item in fetched:
            shas[item.uri] = item.sha
            if item.sha in have:
                tally.hits += 1
            elif item.sha in known_bad:
                errors[item.uri] = _error(item.uri, *known_bad[item.sha])
            elif item.error is not None:
                errors[item.uri] = item.error
                bad[item.sha] = item
            else:
                todo.setdefault(item.sha, item.pixels)
        if todo:
            vectors = self.embedder.embed_arrays(np.stack(list(todo.values())))
            self.store.put_embeddings(model_id, list(todo), vectors)
            have.update(todo)
            tally.computed += len(todo)
        self.store.put_images(  # content facts only; an internal error may not recur
            ImageRecord(sha, item.size, error_kind=item.error.kind, error=item.error.reason)
            for sha, item in bad.items()
            if item.error.kind != "internal_error"
        )

    def _record_sources(self, fetched: list[_Loaded], recorded: dict[str, SourceRecord]) -> None:
        """Remember address -> content, keeping any label/split that a folder import set."""
        records = []
        for item in fetched:
            old = recorded.get(item.uri)
            stat = local_stat(item.uri, self.local_roots)
            records.append(
                SourceRecord(
                    uri=item.uri,
                    sha256=item.sha,
                    size=item.size,
                    mtime_ns=stat[1] if stat else None,
                    label=old.label if old else None,
                    split=old.split if old else None,
                )
            )
        self.store.put_sources(records)

    def _assemble(
        self,
        sources: list[str],
        shas: dict[str, str],
        errors: dict[str, ImageError],
        hits: int,
        computed: int,
    ) -> EmbedResult:
        good = sorted({shas[u] for u in sources if u not in errors and u in shas})
        found, matrix = self.store.embeddings(self.embedder.model_id, good)
        row = {sha: i for i, sha in enumerate(found)}
        vectors = np.zeros((len(sources), self.embedder.dim), dtype=np.float32)
        result = EmbedResult(vectors, cache_hits=hits, computed=computed)
        for i, uri in enumerate(sources):
            if uri in errors:
                result.errors[i] = errors[uri]
            elif shas.get(uri) in row:
                vectors[i] = matrix[row[shas[uri]]]
            else:  # not expected: the store lost a row between write and read
                result.errors[i] = _error(uri, "internal_error", "embedding missing from store")
        return result


def _still_valid(uri: str, rec: SourceRecord, roots: Sequence[Path]) -> bool:
    """Whether the recorded content of ``uri`` can be reused without reading it again."""
    if rec.sha256 is None:
        return False
    if is_remote(uri) or uri.startswith(LABEL_STUDIO_PREFIXES):
        return True
    stat = local_stat(uri, roots)  # None outside the roots: read again, and refused there
    return stat is not None and stat == (rec.size, rec.mtime_ns)


def _load(uri: str, read: ReadFn, spec: InputSpec, max_pixels: int) -> _Loaded:
    """Read, hash, decode and prepare one source (runs in the pool; never raises)."""
    try:
        data = read(uri)
    except ImageError as exc:
        return _Loaded(uri, error=exc)
    except Exception as exc:  # noqa: BLE001 - one bad source must never fail the batch
        return _Loaded(uri, error=_error(uri, "internal_error", f"{type(exc).__name__}: {exc}"))
    loaded = _Loaded(uri, sha=hashlib.sha256(data).hexdigest(), size=len(data))
    try:
        decoded = decode_image(data, uri, max_pixels=max_pixels, min_side=spec.size)
        loaded.pixels = prepare_image(decoded.image, spec)
    except ImageError as exc:
        loaded.error = exc
    except Exception as exc:  # noqa: BLE001 - recorded as this image's failure
        loaded.error = _error(uri, "internal_error", f"{type(exc).__name__}: {exc}")
    return loaded


def _error(uri: str, kind: str, reason: str) -> ImageError:
    error = ImageError(uri, reason)
    error.kind = kind
    return error
