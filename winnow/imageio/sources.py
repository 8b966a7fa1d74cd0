"""Read the bytes of an image from wherever its source string points.

Sources: a local path or ``file://`` URL, ``http(s)://``, a Label Studio data URL (relative
``/data/local-files/?d=...`` and ``/data/upload/...``, or absolute on the Label Studio
origin), and ``s3://bucket/key``. Every source passes the same policy: path roots, the SSRF
guard, the byte limit, the download deadline. Only Label Studio's own origin ever receives
its API key, and only on its file paths (:mod:`winnow.imageio.httpfetch`).

Local files: a source from data may name one only under ``io.local_roots``; a reader that
walks a folder the operator named gets that folder as ``trusted_roots``
(:mod:`winnow.imageio.localfiles`). A ``str`` is parsed as a source; pass a
:class:`~pathlib.Path` to force a local file (for example a local file under
``/data/upload/`` while Label Studio is configured); it passes the same roots.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import httpx

from winnow.config import ImageIOSettings, LabelStudioSettings, S3Settings
from winnow.errors import BlockedSourceError, FetchError, TooLargeError
from winnow.imageio.httpfetch import HttpFetcher, TrustedOrigin, origin_of
from winnow.imageio.localfiles import confine, file_path, scheme_of
from winnow.imageio.s3fetch import S3Fetcher

LABEL_STUDIO_PREFIXES = ("/data/local-files/", "/data/local-files?", "/data/upload/")


class ImageReader:
    """Reads image bytes from any supported source. Use as a context manager, or close()."""

    def __init__(
        self,
        io: ImageIOSettings,
        label_studio: LabelStudioSettings | None = None,
        s3: S3Settings | None = None,
        *,
        http_client: httpx.Client | None = None,
        trusted_roots: Sequence[Path] = (),
        exempt_label_studio: bool = True,
    ) -> None:
        """``trusted_roots``: folders the operator named (a command-line argument), readable
        besides ``io.local_roots``. ``exempt_label_studio=False`` for a Label Studio address
        that arrived in a request (``/setup``): its host then passes the SSRF guard too."""
        self.io = io
        self.label_studio = label_studio
        self.local_roots = (*io.local_roots, *trusted_roots)
        self._http = HttpFetcher(io, client=http_client)
        self._s3 = S3Fetcher(s3, io)
        self._label_studio_origin = _trusted_origin(label_studio, exempt=exempt_label_studio)

    def __enter__(self) -> ImageReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client if this reader created it (a passed-in client is left open)."""
        self._http.close()

    def read(self, source: str | Path) -> bytes:
        """All bytes of ``source``; raises FetchError, BlockedSourceError or TooLargeError."""
        if isinstance(source, Path):
            return self._read_local(source, str(source))
        text = str(source)
        label_studio_url = self._as_label_studio_url(text)
        if label_studio_url is not None:
            return self._http.fetch(
                label_studio_url, source=text, trusted=self._label_studio_origin
            )
        path = file_path(text)  # a plain path or a file: URL in any letter case
        if path is not None:
            return self._read_local(path, text)
        scheme = scheme_of(text)
        if scheme in ("http", "https"):
            return self._http.fetch(text, source=text)
        if scheme == "s3":
            return self._s3.fetch(text)
        raise BlockedSourceError(text, f"unsupported scheme {scheme!r}")

    def _as_label_studio_url(self, text: str) -> str | None:
        origin = self._label_studio_origin
        if origin is None or self.label_studio is None:
            return None
        if text.startswith(LABEL_STUDIO_PREFIXES):
            return self.label_studio.url + text
        return text if origin.matches(text) else None

    def _read_local(self, path: Path, source: str) -> bytes:
        resolved = confine(path, self.local_roots, source=source)
        try:
            info = resolved.stat()
        except FileNotFoundError as exc:
            raise FetchError(source, "no such file") from exc
        except OSError as exc:
            raise FetchError(source, f"cannot stat file: {exc.strerror or exc}") from exc
        if not stat.S_ISREG(info.st_mode):
            raise FetchError(source, "not a regular file")
        limit = self.io.max_bytes
        if info.st_size > limit:
            raise TooLargeError(source, f"file of {info.st_size} bytes exceeds max_bytes {limit}")
        try:
            with resolved.open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise FetchError(source, f"cannot read file: {exc.strerror or exc}") from exc
        if len(data) > limit:  # the file grew after stat
            raise TooLargeError(source, f"file exceeds max_bytes {limit}")
        return data


def _trusted_origin(settings: LabelStudioSettings | None, *, exempt: bool) -> TrustedOrigin | None:
    if settings is None:
        return None
    origin = origin_of(settings.url)
    if origin is None:
        return None
    token = settings.api_key.get_secret_value() if settings.api_key is not None else None
    return TrustedOrigin(*origin, token=token, exempt=exempt)
