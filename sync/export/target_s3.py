"""Versions under ``s3://bucket/prefix``: upload every file, then put ``_MANIFEST.json``.

One export at a time per destination (``lock``): a local lock file keeps runs on this host
apart, and the ``_EXPORT_LOCK.json`` lease (``sync.export.s3lock``) runs on other hosts. The
manifest is created only if absent (``If-None-Match: *``), so even without the lease two
exporters could never both publish one version.

Uploads use boto3's managed transfer (multipart above ``settings.export.multipart_mb``) and
store each file's sha256 as object metadata. A re-run after an interruption lists what is
already there and skips objects whose size and sha256 match, so it resumes instead of
starting over. Objects under the version that the build no longer has (left by an earlier
attempt over different data) are deleted before the manifest is written.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sync.export.checksums import MANIFEST, file_sha256, manifest_bytes
from sync.export.s3errors import translate
from sync.export.s3lock import LEASE, S3Lease, put_new
from sync.export.targets import Advance, version_dirs
from winnow.config import Settings
from winnow.errors import ConfigError
from winnow.locks import hold
from winnow.s3 import s3_client

UPLOAD_THREADS = 8  # many small images: concurrency, not bandwidth, bounds the rate


class S3Target:
    def __init__(self, url: str, settings: Settings) -> None:
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise ConfigError(f"an S3 destination needs a bucket: s3://bucket/prefix, got {url}")
        self.url, self.bucket, self.prefix = url.rstrip("/"), bucket, prefix.strip("/")
        self.settings = settings
        self.endpoint = settings.s3.endpoint_url or "AWS"
        self.attempts = settings.export.s3_attempts
        self.client = s3_client(settings.s3, attempts=self.attempts)
        self.transfer = _transfer_config(settings.export.multipart_mb)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One export at a time into this prefix: here (lock file), and across hosts (lease)."""
        what = f"an export to {self.url}"
        local = self.settings.data_dir / "locks" / f"export-{_digest(self.url)}.lock"
        head = f"{self.prefix}/" if self.prefix else ""
        self._check_bucket()  # some servers create a missing bucket on the lease's put
        with (
            hold(local, what=what),
            S3Lease(self._call, self.client, self.bucket, head + LEASE, self.url),
        ):
            yield

    def _key(self, version: str, name: str = "") -> str:
        head = f"{self.prefix}/" if self.prefix else ""
        return f"{head}v{version}/{name}"

    def _call(self, action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if type(exc).__module__.split(".")[0] not in ("botocore", "boto3", "s3transfer"):
                raise
            raise translate(
                exc,
                action=action,
                endpoint=self.endpoint,
                bucket=self.bucket,
                attempts=self.attempts,
            ) from exc

    def _list(self, prefix: str, **extra: Any) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, **extra
        )
        return self._call(f"listing s3://{self.bucket}/{prefix}", list, pages)

    def versions(self) -> list[str]:
        head = f"{self.prefix}/" if self.prefix else ""
        pages = self._list(head, Delimiter="/")
        names = [
            p["Prefix"][len(head) :].rstrip("/")
            for page in pages
            for p in page.get("CommonPrefixes", [])
        ]
        return [v for v in version_dirs(iter(names)) if self.read(v, MANIFEST) is not None]

    def read(self, version: str, name: str) -> bytes | None:
        key = self._key(version, name)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise translate(
                exc,
                action=f"reading {key}",
                endpoint=self.endpoint,
                bucket=self.bucket,
                attempts=self.attempts,
            ) from exc
        return self._call(f"reading {key}", response["Body"].read)

    def files(self, version: str) -> dict[str, int]:
        base = self._key(version)
        return {
            o["Key"][len(base) :]: int(o["Size"])
            for page in self._list(base)
            for o in page.get("Contents", [])
        }

    def hash_file(self, version: str, name: str) -> str:
        key = self._key(version, name)
        response = self._call(f"reading {key}", self.client.get_object, Bucket=self.bucket, Key=key)
        digest = hashlib.sha256()
        for chunk in response["Body"].iter_chunks(1 << 20):
            digest.update(chunk)
        return digest.hexdigest()

    def staging_dir(self, version: str) -> Path:
        """A fresh local directory, unique to this run."""
        self._check_bucket()
        return Path(tempfile.mkdtemp(prefix=f"winnow-export-v{version}-"))

    def _check_bucket(self) -> None:
        self._call(
            f"checking bucket {self.bucket!r}",
            self.client.list_objects_v2,
            Bucket=self.bucket,
            MaxKeys=1,
        )

    def publish(
        self, staging: Path, version: str, manifest: dict[str, Any], advance: Advance | None = None
    ) -> None:
        if self.read(version, MANIFEST) is not None:
            raise ConfigError(
                f"{self.url}/v{version} is already published; choose another --version"
            )
        present = self.files(version)

        def send(item: tuple[str, dict[str, Any]]) -> None:
            name, info = item
            if not self._already_there(version, name, info, present):
                self._upload(staging / name, self._key(version, name), info["sha256"])

        pool = ThreadPoolExecutor(max_workers=UPLOAD_THREADS)
        try:
            futures = [pool.submit(send, item) for item in manifest["files"].items()]
            for future in as_completed(futures):
                future.result()  # the first error stops the upload
                if advance is not None:
                    advance(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        stale = [n for n in present if n not in manifest["files"] and n != MANIFEST]
        for name in stale:
            self._call(
                "removing a stale object",
                self.client.delete_object,
                Bucket=self.bucket,
                Key=self._key(version, name),
            )
        key = self._key(version, MANIFEST)
        if not put_new(self._call, self.client, self.bucket, key, manifest_bytes(manifest)):
            raise ConfigError(
                f"{self.url}/v{version} was published by another export meanwhile; its "
                "manifest is kept. Run again for the next version"
            )

    def _already_there(
        self, version: str, name: str, info: dict[str, Any], present: dict[str, int]
    ) -> bool:
        if present.get(name) != info["size"]:
            return False
        key = self._key(version, name)
        head = self._call(f"checking {key}", self.client.head_object, Bucket=self.bucket, Key=key)
        return head.get("Metadata", {}).get("sha256") == info["sha256"]

    def _upload(self, path: Path, key: str, sha256: str) -> None:
        if file_sha256(path) != sha256:
            raise ConfigError(f"{path} changed while the export was being uploaded")
        if path.stat().st_size < self.transfer.multipart_threshold:
            # one request; the managed transfer costs a thread pool per call
            with path.open("rb") as body:
                self._call(
                    f"uploading {key}",
                    self.client.put_object,
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    Metadata={"sha256": sha256},
                )
            return
        extra = {"Metadata": {"sha256": sha256}}
        self._call(
            f"uploading {key}",
            self.client.upload_file,
            str(path),
            self.bucket,
            key,
            ExtraArgs=extra,
            Config=self.transfer,
        )


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _transfer_config(multipart_mb: int) -> Any:
    from boto3.s3.transfer import TransferConfig

    size = multipart_mb * 1024 * 1024
    return TransferConfig(
        multipart_threshold=size, multipart_chunksize=size, max_concurrency=4, use_threads=True
    )
