"""Turn SDK and transport failures into one clear :class:`LabelStudioError`.

The SDK raises ``ApiError`` whose text is a dump of headers and body; a user needs the
action, the status and Label Studio's own validation message, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
from label_studio_sdk.core.api_error import ApiError

from winnow.errors import LabelStudioError
from winnow.labelstudio.retry import ATTEMPTS_HEADER

T = TypeVar("T")


def api_error_detail(exc: ApiError) -> str:
    """Label Studio's explanation inside an ``ApiError`` (validation errors first)."""
    body: Any = exc.body
    if isinstance(body, dict):
        errors = body.get("validation_errors")
        if isinstance(errors, dict) and errors:
            return "; ".join(
                f"{name}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                for name, msgs in errors.items()
            )
        for key in ("detail", "error", "message"):
            if body.get(key):
                return str(body[key])
    return str(body)[:500] if body else "no details"


def ls_call(action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call ``fn``; an API or connection failure becomes ``LabelStudioError`` naming ``action``."""
    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        raise LabelStudioError(
            f"Label Studio refused to {action} (HTTP {exc.status_code}): "
            f"{api_error_detail(exc)}{_attempts(exc)}"
        ) from exc
    except httpx.HTTPError as exc:
        raise LabelStudioError(f"Label Studio call failed ({action}): {exc}") from exc


def ls_items(action: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[Any]:
    """The items of a paged listing; a failure on any page, not only the first, is worded
    as :func:`ls_call` words it."""
    items = iter(ls_call(action, fn, *args, **kwargs))
    end = object()
    while (item := ls_call(action, next, items, end)) is not end:
        yield item


def refusal_status(exc: LabelStudioError) -> int | None:
    """The HTTP status of the answer behind ``exc``; None when no answer came."""
    cause = exc.__cause__
    return cause.status_code if isinstance(cause, ApiError) else None


def _attempts(exc: ApiError) -> str:
    """The "gave up after N attempts" suffix, when the retry policy tried more than once."""
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    count = headers.get(ATTEMPTS_HEADER.lower(), "1")
    return f" (gave up after {count} attempts)" if count.isdigit() and int(count) > 1 else ""
