"""One retry policy for every Label Studio call, applied where the client is built.

It sits in the HTTP transport under the SDK, so no call site can forget it:

- a connection that failed before the request was sent is retried for every method;
- 5xx and 429 answers, timeouts and dropped connections are retried for idempotent methods
  (Winnow's PATCHes set whole fields, so they are idempotent too);
- a POST is retried only when it was never sent, or when the server asked for a retry: a 429
  or 503 with ``Retry-After``. A POST that may have been processed is never repeated;
- waits grow exponentially (capped), and a ``Retry-After`` header is honoured (capped too).

4xx answers are never retried: they will not change. The final answer carries the number of
attempts in ``X-Winnow-Attempts`` so :func:`winnow.labelstudio.calls.ls_call` can say so.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
from functools import partial

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
)
from tenacity.wait import wait_base

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
ATTEMPTS_HEADER = "X-Winnow-Attempts"
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
MAYBE_SENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class RetryTransport(httpx.BaseTransport):
    """Wraps a transport (the default one unless ``inner`` is given) with the policy;
    ``retries`` counts the attempts after the first."""

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
        self.wait = RetryAfterWait(min_s=min_wait_s, max_s=max_wait_s)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        policy = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            retry=retry_if_exception(partial(retryable_error, request.method))
            | retry_if_result(partial(retryable_response, request.method)),
            wait=self.wait,
            before_sleep=_discard_failed,
            retry_error_callback=partial(_give_up, request),
        )
        response = policy(self.inner.handle_request, request)
        response.headers[ATTEMPTS_HEADER] = str(policy.statistics["attempt_number"])
        return response

    def close(self) -> None:
        self.inner.close()


class RetryAfterWait(wait_base):
    """The answer's ``Retry-After`` when it gives one, else exponential backoff; both capped."""

    def __init__(self, *, min_s: float, max_s: float) -> None:
        self.backoff = wait_exponential(multiplier=min_s, max=max_s)
        self.max_s = max_s

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        if outcome is not None and not outcome.failed:
            after = retry_after_s(outcome.result())
            if after is not None:
                return min(after, self.max_s)
        return self.backoff(retry_state)


def retryable_response(method: str, response: httpx.Response) -> bool:
    """Worth another attempt: the server failed or refused, and repeating cannot do harm."""
    status = response.status_code
    if method.upper() in IDEMPOTENT:
        return status == 429 or status >= 500
    return status in (429, 503) and retry_after_s(response) is not None


def retryable_error(method: str, exc: BaseException) -> bool:
    """Worth another attempt: never sent, or sent by an idempotent method."""
    if isinstance(exc, NOT_SENT):
        return True
    return method.upper() in IDEMPOTENT and isinstance(exc, MAYBE_SENT)


def retry_after_s(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delay or HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _discard_failed(retry_state: RetryCallState) -> None:
    """Free the connection a failed answer holds before waiting for the next attempt."""
    outcome = retry_state.outcome
    if outcome is None:
        return
    if outcome.failed:
        reason = repr(outcome.exception())
    else:
        response = outcome.result()
        response.read()
        response.close()
        reason = f"HTTP {response.status_code}"
    log.debug("Label Studio attempt %d failed (%s); retrying", retry_state.attempt_number, reason)


def _give_up(request: httpx.Request, retry_state: RetryCallState) -> httpx.Response:
    """After the last attempt: the last answer as it is, or its error naming the attempts."""
    outcome = retry_state.outcome
    assert outcome is not None  # tenacity gives up only after an attempt
    exc = outcome.exception()
    if not isinstance(exc, httpx.RequestError) or retry_state.attempt_number == 1:
        return outcome.result()  # the answer, or the error raised as it was
    message = f"{exc} (gave up after {retry_state.attempt_number} attempts)"
    raise type(exc)(message, request=request) from exc
