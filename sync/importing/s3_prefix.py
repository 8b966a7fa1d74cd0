"""An S3 prefix as an import source: keys under ``s3://bucket/prefix/`` are listed, and the
folder layouts apply to the key paths below the prefix, as they do to a local folder.

Two ways for Label Studio to show the images (``mode``):

- ``storage``: tasks hold ``s3://`` URLs and an S3 import storage with Winnow's endpoint
  and keys lets Label Studio fetch them; use when the Label Studio server can reach S3.
- ``presign``: tasks hold presigned HTTPS URLs made here, valid for ``presign_ttl_s``
  (at most 7 days for SigV4); use when only browsers can reach the bucket. The ``s3://``
  source stays in ``winnow_source``, which Winnow's own readers use.

``storage`` is the default because it keeps credentials out of task data. A presigned URL
carries the access key id (``X-Amz-Credential``) and a signature: everyone who can read the
project, its exports from Label Studio, or its webhooks can fetch that object until the URL
expires, and learns which key signed it. Presign only with a key that can do nothing but read
the bucket, and keep the TTL short. Winnow's own exports strip these parameters
(``sync.export.redact``).
"""

from __future__ import annotations

from typing import Any, Literal

from sync.importing.provenance import Candidate, Plan, Provenance
from winnow.config import Settings
from winnow.errors import ConfigError, FetchError
from winnow.features.walk import Layout
from winnow.imageio.s3fetch import S3Fetcher
from winnow.ingest.layout import is_image_key, labels_from_keys
from winnow.s3 import s3_client

S3Mode = Literal["storage", "presign"]
MAX_PRESIGN_TTL_S = 7 * 24 * 3600


def split_prefix(source: str) -> tuple[str, str]:
    """``(bucket, prefix)`` with the prefix ending in ``/`` (a folder), or empty."""
    if not source.startswith("s3://"):
        raise ConfigError(f"{source!r} is not an s3:// URL")
    bucket, _, prefix = source[len("s3://") :].partition("/")
    if not bucket:
        raise ConfigError(f"{source!r} names no bucket: use s3://bucket/prefix/")
    prefix = prefix.lstrip("/")
    return bucket, (prefix.rstrip("/") + "/") if prefix else ""


def plan_s3(
    source: str,
    *,
    settings: Settings,
    layout: Layout = "auto",
    mode: S3Mode = "storage",
    presign_ttl_s: int = MAX_PRESIGN_TTL_S,
    licence: str | None = None,
    author: str | None = None,
) -> Plan:
    """Every image key under the prefix (sorted), with labels and splits from its path."""
    if mode not in ("storage", "presign"):
        raise ConfigError(f"S3 mode must be 'storage' or 'presign', got {mode!r}")
    if mode == "presign" and not 0 < presign_ttl_s <= MAX_PRESIGN_TTL_S:
        raise ConfigError(f"presign TTL must be 1..{MAX_PRESIGN_TTL_S} seconds")
    bucket, prefix = split_prefix(source)
    client = S3Fetcher(settings.s3, settings.io).client()
    keys = list_keys(client, bucket, prefix, source=source)
    signer = s3_client(settings.s3, presign=True) if mode == "presign" else None
    images = [k for k in keys if is_image_key(k)]
    chosen, labels = labels_from_keys([k[len(prefix) :] for k in images], layout=layout)
    plan = Plan("s3", layout=chosen, considered=len(keys), ignored_files=len(keys) - len(images))
    for key, (label, split) in zip(images, labels, strict=True):
        uri = f"s3://{bucket}/{key}"
        ref = presign(signer, bucket, key, presign_ttl_s) if signer else uri
        provenance = Provenance("s3", uri, licence=licence, author=author)
        labels_of = (label,) if label else ()
        plan.candidates.append(Candidate(provenance, uri, labels_of, split, image_ref=ref))
    return plan


def list_keys(client: Any, bucket: str, prefix: str, *, source: str) -> list[str]:
    """All object keys under ``prefix``, sorted; a listing failure is a clear error."""
    from botocore.exceptions import BotoCoreError, ClientError

    keys: list[str] = []
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [obj["Key"] for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        raise FetchError(source, f"cannot list the prefix: S3 error {code}") from exc
    except BotoCoreError as exc:
        raise FetchError(source, f"cannot list the prefix: {exc}") from exc
    return sorted(keys)


def presign(client: Any, bucket: str, key: str, ttl_s: int) -> str:
    return client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=ttl_s
    )
