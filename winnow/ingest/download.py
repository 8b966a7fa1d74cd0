"""Download many image URLs concurrently, politely and safely.

Every request goes through the core's :class:`~winnow.imageio.httpfetch.HttpFetcher`, so the
SSRF guard checks every redirect hop, the byte limit aborts huge bodies and transient
failures are retried. On top of that this module bounds the work in flight (memory stays
flat on a list of a million URLs), spaces requests to one host (a per-host rate limit, so a
list that points at one site does not hammer it), sniffs the bytes (an HTML error page named
``.jpg`` is not an image), and drops content it has already seen by sha256 as it arrives.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from winnow.config import ImageIOSettings
from winnow.errors import ImageError
from winnow.imageio.httpfetch import HttpFetcher
from winnow.imageio.sniff import sniff_format


@dataclass(frozen=True)
class DownloadPolicy:
    """How hard to push: threads in flight, and requests started per second per host."""

    concurrency: int = 8
    per_host_rate: float | None = 4.0  # None: no limit

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 256:
            raise ValueError(f"concurrency must be in [1, 256], got {self.concurrency}")
        if self.per_host_rate is not None and not self.per_host_rate > 0:
            raise ValueError(f"per_host_rate must be > 0 or None, got {self.per_host_rate}")


@dataclass(frozen=True)
class Download:
    """The outcome for one URL. ``data`` is set only for new, image-looking content."""

    url: str
    data: bytes | None
    sha256: str | None
    format: str | None  # sniffed from the bytes: "JPEG", "PNG", ...
    retrieved_at: float  # Unix time the response finished
    error_kind: str | None = None  # an ImageError kind, "not_an_image" or "duplicate"
    reason: str | None = None
    duplicate_of: str | None = None  # for duplicates: the source that brought this content

    @property
    def ok(self) -> bool:
        return self.error_kind is None


class HostRateLimiter:
    """Spaces request starts to each host at least ``1 / rate`` seconds apart (thread-safe).

    Each caller reserves the next free slot for its host and sleeps until it; an idle host
    costs no wait.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self.interval = 1.0 / rate
        self._clock, self._sleep = clock, sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, host: str) -> float:
        """Claim the next slot for ``host``; returns how long to wait for it."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + self.interval
        return start - now

    def wait(self, host: str) -> None:
        delay = self.reserve(host)
        if delay > 0:
            self._sleep(delay)


class Downloader:
    """Fetch URLs under one policy. ``known`` maps sha256 to a source already held, so
    content seen before this run counts as a duplicate too. Use as a context manager."""

    def __init__(
        self,
        io: ImageIOSettings,
        policy: DownloadPolicy | None = None,
        *,
        known: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.policy = policy or DownloadPolicy()
        self._fetcher = HttpFetcher(io, client=http_client)
        rate = self.policy.per_host_rate
        self._limiter = HostRateLimiter(rate) if rate is not None else None
        self._seen: dict[str, str] = dict(known or {})
        self._lock = threading.Lock()

    def __enter__(self) -> Downloader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._fetcher.close()

    def download(self, url: str) -> Download:
        """Fetch one URL; never raises for a bad URL or response, it reports it."""
        if self._limiter is not None:
            self._limiter.wait((urlsplit(url).netloc or url).lower())
        try:
            data = self._fetcher.fetch(url, source=url)
        except ImageError as exc:
            return Download(url, None, None, None, time.time(), exc.kind, exc.reason)
        except Exception as exc:  # noqa: BLE001 - one bad URL must never stop the batch
            reason = f"unexpected {type(exc).__name__}: {exc}"
            return Download(url, None, None, None, time.time(), "internal_error", reason)
        return self._arrived(url, data)

    def _arrived(self, url: str, data: bytes) -> Download:
        retrieved_at = time.time()
        sha = hashlib.sha256(data).hexdigest()
        fmt = sniff_format(data)
        if fmt is None:
            kind = "zero_byte" if not data else "not_an_image"
            reason = f"the response is not an image ({_describe_bytes(data)})"
            return Download(url, None, sha, None, retrieved_at, kind, reason)
        with self._lock:
            first = self._seen.setdefault(sha, url)
        if first != url:
            reason = f"same content as {first}"
            return Download(url, None, sha, fmt, retrieved_at, "duplicate", reason, first)
        return Download(url, data, sha, fmt, retrieved_at)

    def download_all(self, urls: Iterable[str]) -> Iterator[Download]:
        """Download ``urls`` with at most ``concurrency`` in flight; yields as they finish."""
        workers = self.policy.concurrency
        with ThreadPoolExecutor(workers, thread_name_prefix="winnow-download") as pool:
            pending: set[Future[Download]] = set()
            queue = iter(urls)
            while True:
                while len(pending) < 2 * workers and (url := next(queue, None)) is not None:
                    pending.add(pool.submit(self.download, url))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()


def _describe_bytes(data: bytes) -> str:
    if not data:
        return "empty body"
    head = data[:64].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return f"an HTML page of {len(data)} bytes"
    if head.startswith((b"{", b"[")):
        return f"JSON-like text of {len(data)} bytes"
    return f"{len(data)} bytes of unknown format"
