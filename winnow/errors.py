"""Winnow's exception tree.

Every error Winnow raises on purpose derives from :class:`WinnowError`, so callers can catch
one type. Batch jobs catch :class:`ImageError` per image, record ``kind`` and the message,
and carry on; everything else stops the job with a clear message.

    WinnowError
    ├── ConfigError            invalid or unsafe settings (placeholder secret, bad URL, ...)
    ├── ImageError             one image could not be used; ``source`` says which, ``kind`` why
    │   ├── FetchError         the bytes could not be read (missing file, HTTP error, S3 error)
    │   │   └── BlockedSourceError   refused by policy: SSRF target, path traversal, bad scheme
    │   ├── TooLargeError      more bytes or pixels than allowed (decompression bomb)
    │   └── DecodeError        zero-byte, truncated, corrupt or not an image at all
    ├── ModelError             a model cannot be built (missing weights, unknown name)
    │   └── WeightsUnavailableError  weights are not on disk and cannot be downloaded
    ├── LabelStudioError       Label Studio is unreachable, refused the key, or rejected a call
    ├── StoreError             the feature store is unreadable or from an incompatible version
    └── ServiceError           a local service (Label Studio, SeaweedFS) did not start or died
"""

from __future__ import annotations


class WinnowError(Exception):
    """Base of every error Winnow raises on purpose."""


class ConfigError(WinnowError):
    """Settings are invalid or unsafe."""


class ImageError(WinnowError):
    """One image cannot be used. Batch jobs record it and continue."""

    kind: str = "image_error"

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


class FetchError(ImageError):
    """The image bytes could not be read from their source."""

    kind = "fetch_failed"


class BlockedSourceError(FetchError):
    """A source refused by policy (SSRF target, path traversal, unsupported scheme)."""

    kind = "blocked_source"


class TooLargeError(ImageError):
    """More bytes or pixels than the configured limits allow."""

    kind = "too_large"


class DecodeError(ImageError):
    """The bytes are not a decodable image: zero-byte, truncated, corrupt or another format."""

    kind = "undecodable"

    def __init__(self, source: str, reason: str, *, kind: str | None = None) -> None:
        super().__init__(source, reason)
        if kind is not None:
            self.kind = kind


class ModelError(WinnowError):
    """A model cannot be built."""


class WeightsUnavailableError(ModelError):
    """Pretrained weights are neither on disk nor downloadable (for example, offline)."""


class LabelStudioError(WinnowError):
    """Label Studio is unreachable, refused the API key, or rejected a request."""


class StoreError(WinnowError):
    """The feature store cannot be opened or is from an incompatible version."""


class ServiceError(WinnowError):
    """A local service process did not start, was not ready in time, or died.

    The message carries the tail of the service's log, because that is where the cause is.
    """
