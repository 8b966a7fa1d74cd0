"""Turn boto3/botocore failures into errors that say what to fix.

A refused secret or key id names the setting (and its environment variable); a missing
bucket names the bucket and the endpoint; a server that stays unreachable after the retries
says that nothing was published and that re-running the same command resumes the upload.
"""

from __future__ import annotations

from winnow.errors import ConfigError, ServiceError, WinnowError

_CREDENTIALS = {
    "SignatureDoesNotMatch": (
        "refused the secret key",
        "s3.secret_access_key",
        "WINNOW_S3__SECRET_ACCESS_KEY",
    ),
    "InvalidAccessKeyId": (
        "does not know the access key id",
        "s3.access_key_id",
        "WINNOW_S3__ACCESS_KEY_ID",
    ),
}
_UNREACHABLE = (
    "EndpointConnectionError",
    "ConnectionClosedError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionError",
    "ProxyConnectionError",
)


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a ClientError, also when wrapped (S3UploadFailedError)."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict):
            return str(response.get("Error", {}).get("Code", "Unknown"))
        seen = seen.__cause__ or seen.__context__
    return None


def _unreachable(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if type(seen).__name__ in _UNREACHABLE:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def translate(
    exc: BaseException, *, action: str, endpoint: str, bucket: str, attempts: int
) -> WinnowError:
    code = error_code(exc)
    where = f"S3 at {endpoint}"
    if code in _CREDENTIALS:
        what, setting, env = _CREDENTIALS[code]
        return ConfigError(
            f"{where} {what} ({code}) while {action}: fix {setting} "
            f"(environment variable {env}, or AWS_* for the default chain)"
        )
    if code == "NoSuchBucket":
        return ConfigError(
            f"bucket {bucket!r} does not exist at {endpoint}: create it or fix "
            "the s3:// destination"
        )
    if code in ("AccessDenied", "403"):
        return ConfigError(
            f"{where} denied access to bucket {bucket!r} while {action}: "
            "the credentials in s3.access_key_id lack permission"
        )
    if code is None and _unreachable(exc):
        return ServiceError(
            f"{where} is unreachable after {attempts} attempts while {action} "
            f"({type(exc).__name__}). Nothing was published; run the same "
            "command again to resume: files already uploaded are skipped."
        )
    return ServiceError(
        f"{where} failed while {action}: {code or type(exc).__name__}: {exc}. "
        "Nothing was published; re-run the same command to resume."
    )
