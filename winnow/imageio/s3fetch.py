"""``s3://bucket/key`` reads through boto3, against AWS or any S3 server (SeaweedFS, MinIO).

The endpoint is operator configuration, so it is not put through the SSRF guard: a local
S3 server on 127.0.0.1 is a normal deployment. The client is built on first use, by
:func:`winnow.s3.s3_client`, so a reader that never sees ``s3://`` never imports boto3.
"""

from __future__ import annotations

import threading
from typing import Any

from winnow.config import ImageIOSettings, S3Settings
from winnow.errors import FetchError, TooLargeError
from winnow.s3 import s3_client


def split_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, key)``. The key is taken verbatim, as the AWS CLI does (no %-decoding)."""
    bucket, _, key = url[len("s3://") :].partition("/")
    if not bucket or not key:
        raise FetchError(url, "an S3 URL needs a bucket and a key: s3://bucket/key")
    return bucket, key


class S3Fetcher:
    """Holds one lazily created client; boto3 clients are thread-safe."""

    def __init__(self, s3: S3Settings | None, io: ImageIOSettings) -> None:
        self._settings = s3 if s3 is not None else S3Settings()
        self._io = io
        self._client: Any = None
        self._lock = threading.Lock()

    def fetch(self, url: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = split_s3_url(url)
        where = f"bucket {bucket!r} key {key!r}"
        try:
            response = self.client().get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise FetchError(url, f"S3 error {code} for {where}") from exc
        except BotoCoreError as exc:
            raise FetchError(url, f"S3 request for {where} failed: {exc}") from exc
        body = response["Body"]
        try:
            return self._read(body, int(response.get("ContentLength", 0)), url)
        except BotoCoreError as exc:
            raise FetchError(url, f"S3 read of {where} failed: {exc}") from exc
        finally:
            body.close()

    def _read(self, body: Any, length: int, url: str) -> bytes:
        limit = self._io.max_bytes
        if length > limit:
            raise TooLargeError(url, f"S3 object of {length} bytes exceeds max_bytes {limit}")
        data = body.read(limit + 1)
        if len(data) > limit:
            raise TooLargeError(url, f"S3 object exceeds max_bytes {limit}")
        return data

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = s3_client(
                    self._settings,
                    attempts=self._io.http_retries + 1,
                    connect_timeout_s=self._io.http_timeout_s,
                    read_timeout_s=self._io.http_timeout_s,
                )
            return self._client
