"""HTTP(S) downloads that respect the SSRF guard, the size limit and the Label Studio key.

Redirects are followed by hand so every hop is checked, and each connection goes to the
exact address that was checked (the Host header and TLS name stay the original host), so a
DNS answer that changes after the check cannot redirect the request. Requests are built
without the client's default headers, cookies or auth: nothing leaks from one host to another.

The Label Studio key goes only to Label Studio's file paths (:data:`TOKEN_PATHS`), never to
its API, so a task image pointing at ``/api/...`` cannot act with the key. Every download
has an overall deadline (``io.fetch_deadline_s``) across redirects, retries and the body: a
server that drips one byte per read timeout is cut off when it runs out.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from winnow import __version__
from winnow.config import ImageIOSettings
from winnow.errors import FetchError, ImageError, TooLargeError
from winnow.imageio.urlguard import IPAddress, resolve_checked

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
USER_AGENT = f"winnow/{__version__}"
# Label Studio serves task files here; its API (/api/...) never sees the key from a fetch.
TOKEN_PATHS = ("/data/upload/", "/data/local-files/")
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class TrustedOrigin:
    """The one origin (scheme, host, port) that receives an API key, e.g. Label Studio.

    ``exempt``: its host may be private or loopback (the operator configured it); False for
    an address that arrived in a request, which then passes the SSRF guard like any other.
    """

    scheme: str
    host: str
    port: int
    token: str | None = field(default=None, repr=False)
    exempt: bool = True

    def matches(self, url: str) -> bool:
        return origin_of(url) == (self.scheme, self.host, self.port)

    def takes_token(self, url: str) -> bool:
        """Whether ``url`` is on this origin and on one of :data:`TOKEN_PATHS`."""
        return self.token is not None and self.matches(url) and is_token_path(url)


def is_token_path(url: str) -> bool:
    """Whether the path of ``url``, as sent and as decoded, is one of Label Studio's file
    paths, with no ``..`` segment that a server might still resolve."""
    try:
        target = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return False
    raw = target.raw_path.split(b"?", 1)[0].decode("ascii", "replace")
    for path in (target.path, raw):
        if ".." in path.split("/") or not (path + "/").startswith(TOKEN_PATHS):
            return False
    return True


def origin_of(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` with default ports filled in; None for non-HTTP URLs."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        return scheme, parts.hostname.rstrip("."), parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        return None


class _RetryableStatus(Exception):
    def __init__(self, url: str, status: int) -> None:
        super().__init__(f"HTTP {status} from {url}")
        self.status = status


_TRANSIENT = (httpx.ConnectError, httpx.TimeoutException, _RetryableStatus)


class HttpFetcher:
    """Downloads whole bodies up to ``max_bytes``; retries only transient failures."""

    def __init__(self, io: ImageIOSettings, *, client: httpx.Client | None = None) -> None:
        self._io = io
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    def fetch(self, url: str, *, source: str, trusted: TrustedOrigin | None = None) -> bytes:
        """The body of ``url``; ``trusted`` gets the token, and only while a hop is on it."""
        deadline = time.monotonic() + self._io.fetch_deadline_s
        attempts = self._io.http_retries + 1
        backoff = wait_exponential(multiplier=0.2, max=3)
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=lambda state: min(backoff(state), max(0.0, deadline - time.monotonic())),
            retry=retry_if_exception_type(_TRANSIENT),
            before_sleep=before_sleep_log(log, logging.DEBUG),
            reraise=True,
        )
        try:
            return retrying(self._follow, url, source, trusted, deadline)
        except _RetryableStatus as exc:
            raise FetchError(source, f"{exc} (after {attempts} attempts)") from exc
        except httpx.TimeoutException as exc:
            if time.monotonic() >= deadline:
                raise self._too_slow(source) from exc
            reason = f"timed out after {self._io.http_timeout_s}s ({attempts} attempts)"
            raise FetchError(source, reason) from exc
        except httpx.HTTPError as exc:
            raise FetchError(source, f"{type(exc).__name__}: {exc}") from exc

    def _follow(
        self, url: str, source: str, trusted: TrustedOrigin | None, deadline: float
    ) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            left = self._time_left(deadline, source)
            exempt = trusted is not None and trusted.exempt and trusted.matches(url)
            allowed = [*self._io.allowed_hosts, *([trusted.host] if exempt else [])]
            try:
                addresses = resolve_checked(url, allowed_hosts=allowed)
            except ImageError as exc:
                if exc.source == source:
                    raise
                # report against the caller's source, naming the refused hop
                raise type(exc)(source, f"{url}: {exc.reason}") from exc
            headers = {"User-Agent": USER_AGENT}
            if trusted is not None and trusted.takes_token(url):
                headers["Authorization"] = f"Token {trusted.token}"
            response = self._send(url, addresses[0], headers, timeout=left)
            try:
                if response.is_redirect:
                    url = urljoin(url, response.headers["location"])
                    continue
                return self._body(response, url, source, deadline)
            finally:
                response.close()
        raise FetchError(source, f"more than {MAX_REDIRECTS} redirects")

    def _time_left(self, deadline: float, source: str) -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._too_slow(source)
        return left

    def _too_slow(self, source: str) -> FetchError:
        limit = self._io.fetch_deadline_s
        return FetchError(source, f"download did not finish within {limit}s (io.fetch_deadline_s)")

    def _send(
        self, url: str, address: IPAddress, headers: dict[str, str], *, timeout: float
    ) -> httpx.Response:
        target = httpx.URL(url)
        headers["Host"] = target.netloc.decode("ascii")
        step = min(self._io.http_timeout_s, timeout)
        extensions: dict[str, object] = {"timeout": httpx.Timeout(step).as_dict()}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host  # verify the certificate for the name
        request = httpx.Request(
            "GET", target.copy_with(host=str(address)), headers=headers, extensions=extensions
        )
        return self._http().send(request, stream=True, follow_redirects=False, auth=None)

    def _body(self, response: httpx.Response, url: str, source: str, deadline: float) -> bytes:
        status = response.status_code
        if status == 429 or status >= 500:
            raise _RetryableStatus(url, status)
        if not response.is_success:
            raise FetchError(source, f"HTTP {status} {response.reason_phrase} from {url}")
        limit = self._io.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise TooLargeError(source, f"Content-Length {declared} exceeds max_bytes {limit}")
        body = bytearray()
        with _Watchdog(response, deadline) as watchdog:
            try:
                for chunk in response.iter_bytes():
                    if watchdog.fired:
                        break
                    body += chunk
                    if len(body) > limit:
                        raise TooLargeError(
                            source, f"body exceeds max_bytes {limit}; download aborted"
                        )
            except httpx.HTTPError:
                if not watchdog.fired:
                    raise
        if watchdog.fired:  # the body may look complete when the cut ended it
            raise self._too_slow(source)
        return bytes(body)

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                # trust_env=False: a proxy from the environment would resolve names itself
                # and bypass the address pinning above.
                self._client = httpx.Client(trust_env=False, follow_redirects=False)
            return self._client


class _Watchdog:
    """Shuts the response's socket down at ``deadline``, so a read blocked on a slow server
    returns at once (a read timeout only bounds each read, not their sum)."""

    def __init__(self, response: httpx.Response, deadline: float) -> None:
        stream = response.extensions.get("network_stream")
        self._socket = stream.get_extra_info("socket") if stream is not None else None
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._deadline = deadline
        self._fired = threading.Event()

    @property
    def fired(self) -> bool:
        return self._fired.is_set() or time.monotonic() >= self._deadline

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def _fire(self) -> None:
        self._fired.set()
        if isinstance(self._socket, socket.socket):
            with contextlib.suppress(OSError):  # already closed: the read has ended anyway
                self._socket.shutdown(socket.SHUT_RDWR)
