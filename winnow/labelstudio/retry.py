"""One retry policy for every Label Studio call, applied where the client is built.

It sits in the HTTP transport under the SDK, so no call site can forget it:

- a connection that failed before the request was sent is retried for every method;
- 5xx answers and read timeouts are retried for idempotent methods (Winnow's PATCHes set
  whole fields, so they are idempotent too);
- 429 and 503 are retried for POST as well: the server refused before doing anything;
- waits grow exponentially (capped), and a ``Retry-After`` header is honoured.

4xx answers are never retried: they will not change. The final answer carries the number of
attempts in ``X-Winnow-Attempts`` so :func:`winnow.labelstudio.calls.ls_call` can say so.
"""

from __future__ import annotations

import time

import httpx

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
ATTEMPTS_HEADER = "X-Winnow-Attempts"
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class RetryTransport(httpx.BaseTransport):
    """Wraps a transport (the default one unless ``inner`` is given) with the policy."""

    def __init__(
        self,
        retries: int,
        *,
        inner: httpx.BaseTransport | None = None,
        min_wait_s: float = 0.5,
        max_wait_s: float = 8.0,
    ) -> None:
        self.retries = retries
        self.inner = inner or httpx.HTTPTransport()
        self.min_wait_s = min_wait_s
        self.max_wait_s = max_wait_s

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            last = attempt > self.retries
            try:
                response = self.inner.handle_request(request)
            except httpx.TransportError as exc:
                if last or not retryable_error(request.method, exc):
                    if attempt > 1:
                        raise type(exc)(f"{exc} (gave up after {attempt} attempts)") from exc
                    raise
                time.sleep(self._delay(attempt, None))
                continue
            if last or not retryable_status(request.method, response.status_code):
                response.headers[ATTEMPTS_HEADER] = str(attempt)
                return response
            response.read()
            response.close()
            time.sleep(self._delay(attempt, response))

    def close(self) -> None:
        self.inner.close()

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        after = retry_after_s(response) if response is not None else None
        if after is not None:
            return min(after, self.max_wait_s)
        return min(self.max_wait_s, self.min_wait_s * 2 ** (attempt - 1))


def retryable_status(method: str, status: int) -> bool:
    if status in (429, 503):
        return True
    return status >= 500 and method.upper() in IDEMPOTENT


def retryable_error(method: str, exc: httpx.TransportError) -> bool:
    if isinstance(exc, NOT_SENT):
        return True
    return method.upper() in IDEMPOTENT and isinstance(
        exc, httpx.ReadTimeout | httpx.RemoteProtocolError | httpx.ReadError
    )


def retry_after_s(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (the HTTP-date form is rare from Label Studio: ignored)."""
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
