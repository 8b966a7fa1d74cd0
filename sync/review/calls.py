"""Label Studio calls with retries: connection errors and 5xx answers are retried with
exponential backoff (``settings.sync.retries`` times), then become one clear
:class:`LabelStudioError`. 4xx answers are not retried: they will not change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from label_studio_sdk.core.api_error import ApiError
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from winnow.errors import LabelStudioError
from winnow.labelstudio.calls import ls_call

T = TypeVar("T")


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiError):
        return exc.status_code is None or exc.status_code >= 500
    return isinstance(exc, httpx.TransportError)


class Caller:
    """Runs Label Studio calls with the retry policy; ``max_wait_s`` caps one backoff."""

    def __init__(self, retries: int, *, min_wait_s: float = 0.5, max_wait_s: float = 8.0) -> None:
        self.retries = retries
        self.min_wait_s = min_wait_s
        self.max_wait_s = max_wait_s

    def __call__(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, an SDK method; its own retries are turned off (ours count)."""
        kwargs.setdefault("request_options", {"max_retries": 0})
        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.min_wait_s, max=self.max_wait_s),
            retry=retry_if_exception(_transient),
            reraise=False,
        )
        try:
            return retrying(fn, *args, **kwargs)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            try:
                ls_call(action, _raise, last)
            except LabelStudioError as clear:
                raise LabelStudioError(
                    f"{clear} (gave up after {self.retries + 1} attempts)"
                ) from last
            raise LabelStudioError(f"Label Studio call failed ({action})") from last
        except (ApiError, httpx.HTTPError) as exc:
            ls_call(action, _raise, exc)
            raise  # unreachable: ls_call always raises for these


def _raise(exc: BaseException | None) -> None:
    if exc is not None:
        raise exc
