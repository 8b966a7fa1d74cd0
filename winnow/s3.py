"""The one place that builds a boto3 S3 client from :class:`~winnow.config.S3Settings`.

It talks to AWS or to any S3 server (SeaweedFS, MinIO). A configured endpoint switches to
path-style addressing, because such servers seldom give each bucket its own DNS name. Keys
come as a pair or not at all; with none, boto3's own chain applies (environment, profile,
instance role). boto3 is imported on first use: it is slow to import and most runs never
touch S3.
"""

from __future__ import annotations

from typing import Any

from winnow import __version__
from winnow.config import S3Settings
from winnow.errors import ConfigError

KEY_SETTINGS = "s3.access_key_id and s3.secret_access_key"
KEY_VARIABLES = "WINNOW_S3__ACCESS_KEY_ID and WINNOW_S3__SECRET_ACCESS_KEY"


def s3_client(
    s3: S3Settings,
    *,
    attempts: int = 3,
    connect_timeout_s: float = 5.0,
    read_timeout_s: float = 60.0,
    presign: bool = False,
) -> Any:
    """A thread-safe client; ``attempts`` counts the first try. ``presign`` gives a client
    that signs URLs with SigV4 (boto3 may pick SigV2, which AWS regions opened since 2014
    refuse), so it needs keys."""
    import boto3
    from botocore.config import Config

    credentials = _credentials(s3, required_for="presigned URLs" if presign else None)
    options: dict[str, Any] = {"signature_version": "s3v4"} if presign else {}
    config = Config(
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        # botocore's "max_attempts" counts retries only; "total_max_attempts" counts every try
        retries={"total_max_attempts": attempts, "mode": "standard"},
        s3={"addressing_style": "path"} if s3.endpoint_url else {},
        user_agent_extra=f"winnow/{__version__}",
        **options,
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name=s3.region,
        config=config,
        **credentials,
    )


def _credentials(s3: S3Settings, *, required_for: str | None) -> dict[str, str]:
    key_id, secret = s3.access_key_id, s3.secret_access_key
    if key_id is not None and secret is not None:
        return {
            "aws_access_key_id": key_id.get_secret_value(),
            "aws_secret_access_key": secret.get_secret_value(),
        }
    if required_for is not None:
        raise ConfigError(f"{required_for} need {KEY_SETTINGS}: set {KEY_VARIABLES}")
    if key_id is not None or secret is not None:
        raise ConfigError(f"set both {KEY_SETTINGS} ({KEY_VARIABLES}), or neither")
    return {}
