"""Grayscale working copies for the duplicate audit's geometric check, read on demand.

The feature store keeps measurements, not pixels, so a candidate pair's images are read again
from a source the store knows for that content (the same reader and policy as extraction:
roots, SSRF guard, byte and pixel limits) and decoded small: JPEG draft mode straight to about
``size`` pixels. Only items that reach the verification step are read, once each.

The keeper's signal (a native-size decode and an FFT per cluster member) depends on the
content only, and a candidate pair's raw geometric match on the two contents only, so both are
cached in the store's ``measures`` table, under :data:`~analysis.resolution.SIGNAL_VERSION`
and the matcher's version with this working size: a repeated audit of the same files reads no
pixels for either.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from analysis.audit import AuditOptions
from analysis.duplicates_verify import PairMatch
from analysis.geometric import GeometricMatch
from analysis.resolution import SIGNAL_VERSION, ResolutionSignal, resolution_signal
from winnow.config import Settings
from winnow.errors import ImageError, StoreError
from winnow.features.measure import make_thumbnail
from winnow.imageio import ImageReader, decode_image
from winnow.store import FeatureStore
from winnow.store.measures import MeasureCache

log = logging.getLogger(__name__)
KEEPER_KIND = "keeper_signal"
MATCH_KIND = "pair_match"
FLUSH_EVERY = 256  # new signals written per transaction (and by flush() at the end)


class SourcePixels:
    """``sha256 -> uint8 (H, W)`` grayscale working copy with a long side of ``size`` px, or
    None when no known source of that content can be read now. Callable, for AuditOptions."""

    def __init__(self, settings: Settings, *, size: int, trusted_roots: Sequence[Path] = ()):
        self.settings = settings
        self.size = size
        self.trusted_roots = tuple(trusted_roots)
        self._uris: dict[str, list[str]] | None = None
        self._lock = threading.Lock()
        self._reader: ImageReader | None = None
        self._signals: dict[str, ResolutionSignal] | None = None  # cached, by sha256
        self._new: dict[str, ResolutionSignal] = {}  # measured here, not yet written

    def __call__(self, sha256: str) -> np.ndarray | None:
        for uri in self._sources().get(sha256, []):
            try:
                data = self._open().read(uri)
                decoded = decode_image(
                    data, uri, max_pixels=self.settings.io.max_pixels, min_side=self.size, gray=True
                )
            except ImageError:
                continue
            return np.asarray(make_thumbnail(decoded.image, self.size))
        return None

    def resolution(self, sha256: str) -> ResolutionSignal | None:
        """The keeper signal of that content, from the store's cache or decoded at native size
        (only cluster members are measured, so the full decode is paid for a few files), or
        None when unreadable. New signals are written every :data:`FLUSH_EVERY` and by
        :meth:`flush`."""
        cached = self._cached().get(sha256)
        if cached is not None:
            return cached
        signal = self._measure(sha256)
        if signal is not None:
            with self._lock:
                self._new[sha256] = signal
                full = len(self._new) >= FLUSH_EVERY
            if full:
                self.flush()
        return signal

    def flush(self) -> None:
        """Write the signals measured since the last flush to the store's cache. A store that
        cannot be written costs the next audit a re-measure, never this one its result."""
        with self._lock:
            new, self._new = self._new, {}
        if not new or not self.settings.store_path.exists():
            return
        values = {sha: dataclasses.asdict(signal) for sha, signal in new.items()}
        try:
            with MeasureCache(self.settings.store_path) as cache:
                cache.put(KEEPER_KIND, SIGNAL_VERSION, values)
        except StoreError as exc:
            log.warning("keeper signals not cached: %s", exc)
            return
        cached = self._cached()
        with self._lock:
            cached.update(new)

    def load(
        self, version: str, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], PairMatch]:
        """Cached raw matches of content pairs ``(sha_a, sha_b)`` (a ``MatchCache[str]``)."""
        if not pairs or not self.settings.store_path.exists():
            return {}
        keys = {f"{a}:{b}": (a, b) for a, b in pairs}
        try:
            with MeasureCache(self.settings.store_path) as cache:
                rows = cache.get(MATCH_KIND, self._match_version(version), list(keys))
        except StoreError as exc:
            log.warning("geometric match cache not read: %s", exc)
            return {}
        return {keys[k]: m for k, v in rows.items() if (m := _pair_match(v)) is not None}

    def save(self, version: str, found: Mapping[tuple[str, str], PairMatch]) -> None:
        """Cache new raw matches; a store that cannot be written logs and costs a re-match."""
        if not found or not self.settings.store_path.exists():
            return
        values = {f"{a}:{b}": _match_row(m) for (a, b), m in found.items()}
        try:
            with MeasureCache(self.settings.store_path) as cache:
                cache.put(MATCH_KIND, self._match_version(version), values)
        except StoreError as exc:
            log.warning("geometric matches not cached: %s", exc)

    def _match_version(self, version: str) -> str:
        return f"{version}/size={self.size}"

    def _measure(self, sha256: str) -> ResolutionSignal | None:
        for uri in self._sources().get(sha256, []):
            try:
                data = self._open().read(uri)
                decoded = decode_image(data, uri, max_pixels=self.settings.io.max_pixels, gray=True)
                with Image.open(io.BytesIO(data)) as header:
                    tables = getattr(header, "quantization", None)
                gray = np.asarray(decoded.image)
                return resolution_signal(gray, tables) if min(gray.shape) >= 16 else None
            except (ImageError, OSError, ValueError):
                continue
        return None

    def _cached(self) -> dict[str, ResolutionSignal]:
        """Every cached signal of the store's contents, read once (one query per 900)."""
        if self._signals is None:
            shas = list(self._sources())
            found: dict[str, ResolutionSignal] = {}
            if shas and self.settings.store_path.exists():
                try:
                    with MeasureCache(self.settings.store_path) as cache:
                        rows = cache.get(KEEPER_KIND, SIGNAL_VERSION, shas)
                except StoreError as exc:
                    log.warning("keeper signal cache not read: %s", exc)
                    rows = {}
                found = {sha: s for sha, v in rows.items() if (s := _signal(v)) is not None}
            with self._lock:
                if self._signals is None:
                    self._signals = found
        return self._signals

    def _sources(self) -> dict[str, list[str]]:
        with self._lock:  # the keeper's signals are measured on several threads
            return self._load_sources()

    def _load_sources(self) -> dict[str, list[str]]:
        if self._uris is None:
            self._uris = {}
            path = self.settings.store_path
            if path.exists():
                with FeatureStore(path, readonly=True) as store:
                    frame = store.sources_frame()
                ok = frame["sha256"].notna() & frame["error_kind"].isna()
                for sha, uri in zip(frame["sha256"][ok], frame["uri"][ok], strict=True):
                    self._uris.setdefault(sha, []).append(uri)
        return self._uris

    def _open(self) -> ImageReader:
        with self._lock:
            if self._reader is None:
                s = self.settings
                reader = ImageReader(s.io, s.label_studio, s.s3, trusted_roots=self.trusted_roots)
                weakref.finalize(self, reader.close)
                self._reader = reader
            return self._reader


def flush_measures(options: AuditOptions) -> None:
    """Write what the audit under ``options`` measured and did not write yet (call it once
    the audit is done; options built elsewhere have nothing to write)."""
    owner = getattr(options.resolution, "__self__", None)
    if isinstance(owner, SourcePixels):
        owner.flush()


def _match_row(m: PairMatch) -> dict:
    h = m.match.homography
    return {
        "inliers": m.match.inliers,
        "matches": m.match.matches,
        "homography": None if h is None else np.asarray(h, float).ravel().tolist(),
        "mirrored": m.match.mirrored,
        "shapes": [list(shape) for shape in m.shapes],
    }


def _pair_match(value: dict) -> PairMatch | None:
    """A cached row back as a match (floats round-trip exactly through JSON); None for a row
    of another shape (matched again)."""
    try:
        h = value["homography"]
        match = GeometricMatch(
            inliers=int(value["inliers"]),
            matches=int(value["matches"]),
            homography=None if h is None else np.asarray(h, np.float64).reshape(3, 3),
            mirrored=bool(value["mirrored"]),
        )
        a, b = (tuple(int(x) for x in shape) for shape in value["shapes"])
        return PairMatch(match, (a, b))  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        return None


def _signal(value: dict) -> ResolutionSignal | None:
    """A cached row back as a signal; None for a row of another shape (measured again)."""
    try:
        return ResolutionSignal(**value)
    except TypeError:
        return None
