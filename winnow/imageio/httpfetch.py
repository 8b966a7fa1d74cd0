"""HTTP(S) downloads that respect the SSRF guard, the size limit and the Label Studio key.

Redirects are followed by hand so every hop is checked, and each connection goes to the
exact address that was checked (the Host header and TLS name stay the original host), so a
DNS answer that changes after the check cannot redirect the request. Requests are built
without the client's default headers, cookies or auth: nothing leaks from one host to another.
"""

from __future__ import annotations

import logging
import threading
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
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class TrustedOrigin:
    """The one origin (scheme, host, port) that receives an API key, e.g. Label Studio."""

    scheme: str
    host: str
    port: int
    token: str | None = field(default=None, repr=False)

    def matches(self, url: str) -> bool:
        return origin_of(url) == (self.scheme, self.host, self.port)


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
        self._timeout = httpx.Timeout(io.http_timeout_s)

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    def fetch(self, url: str, *, source: str, trusted: TrustedOrigin | None = None) -> bytes:
        """The body of ``url``; ``trusted`` gets the token, and only while a hop is on it."""
        attempts = self._io.http_retries + 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=0.2, max=3),
            retry=retry_if_exception_type(_TRANSIENT),
            before_sleep=before_sleep_log(log, logging.DEBUG),
            reraise=True,
        )
        try:
            return retrying(self._follow, url, source, trusted)
        except _RetryableStatus as exc:
            raise FetchError(source, f"{exc} (after {attempts} attempts)") from exc
        except httpx.TimeoutException as exc:
            reason = f"timed out after {self._io.http_timeout_s}s ({attempts} attempts)"
            raise FetchError(source, reason) from exc
        except httpx.HTTPError as exc:
            raise FetchError(source, f"{type(exc).__name__}: {exc}") from exc

    def _follow(self, url: str, source: str, trusted: TrustedOrigin | None) -> bytes:
        for _ in range(MAX_REDIRECTS + 1):
            on_trusted = trusted is not None and trusted.matches(url)
            allowed = [*self._io.allowed_hosts, *([trusted.host] if on_trusted else [])]
            try:
                addresses = resolve_checked(url, allowed_hosts=allowed)
            except ImageError as exc:
                if exc.source == source:
                    raise
                # report against the caller's source, naming the refused hop
                raise type(exc)(source, f"{url}: {exc.reason}") from exc
            headers = {"User-Agent": USER_AGENT}
            if on_trusted and trusted.token:
                headers["Authorization"] = f"Token {trusted.token}"
            response = self._send(url, addresses[0], headers)
            try:
                if response.is_redirect:
                    url = urljoin(url, response.headers["location"])
                    continue
                return self._body(response, url, source)
            finally:
                response.close()
        raise FetchError(source, f"more than {MAX_REDIRECTS} redirects")

    def _send(self, url: str, address: IPAddress, headers: dict[str, str]) -> httpx.Response:
        target = httpx.URL(url)
        headers["Host"] = target.netloc.decode("ascii")
        extensions: dict[str, object] = {"timeout": self._timeout.as_dict()}
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host  # verify the certificate for the name
        request = httpx.Request(
            "GET", target.copy_with(host=str(address)), headers=headers, extensions=extensions
        )
        return self._http().send(request, stream=True, follow_redirects=False, auth=None)

    def _body(self, response: httpx.Response, url: str, source: str) -> bytes:
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
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > limit:
                raise TooLargeError(source, f"body exceeds max_bytes {limit}; download aborted")
        return bytes(body)

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                # trust_env=False: a proxy from the environment would resolve names itself
                # and bypass the address pinning above.
                self._client = httpx.Client(trust_env=False, follow_redirects=False)
            return self._client
