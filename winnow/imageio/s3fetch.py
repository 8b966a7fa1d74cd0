"""``s3://bucket/key`` reads through boto3, against AWS or any S3 server (SeaweedFS, MinIO).

The endpoint is operator configuration, so it is not put through the SSRF guard: a local
S3 server on 127.0.0.1 is a normal deployment. boto3 is imported on first use because it is
slow to import and most runs never touch S3.
"""

from __future__ import annotations

import threading
from typing import Any

from winnow import __version__
from winnow.config import ImageIOSettings, S3Settings
from winnow.errors import ConfigError, FetchError, TooLargeError


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
                self._client = self._make_client()
            return self._client

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        s3 = self._settings
        key_id, secret = s3.access_key_id, s3.secret_access_key
        if (key_id is None) != (secret is None):
            raise ConfigError("set both s3.access_key_id and s3.secret_access_key, or neither")
        credentials: dict[str, str] = {}
        if key_id is not None and secret is not None:
            credentials = {
                "aws_access_key_id": key_id.get_secret_value(),
                "aws_secret_access_key": secret.get_secret_value(),
            }
        config = Config(
            connect_timeout=self._io.http_timeout_s,
            read_timeout=self._io.http_timeout_s,
            retries={"max_attempts": self._io.http_retries + 1, "mode": "standard"},
            s3={"addressing_style": "path"} if s3.endpoint_url else {},
            user_agent_extra=f"winnow/{__version__}",
        )
        session = boto3.session.Session()
        return session.client(
            "s3",
            endpoint_url=s3.endpoint_url,
            region_name=s3.region,
            config=config,
            **credentials,
        )
