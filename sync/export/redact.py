"""Image addresses without credentials, for every table an export writes.

A presigned S3 URL carries the access key id (``X-Amz-Credential``) and a signature that
stays valid until it expires; ``user:password@host`` carries a password. An export travels
further than Label Studio does, so its tables (``manifest.*``, ``exclusions.csv``, shard
metadata, the card) keep where an image lives and drop how to get in: the userinfo part and
the query parameters that are credentials. Other parameters stay (Label Studio's
``/data/local-files/?d=...`` names the file). Reading the images still uses the full address.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd

# Case-insensitive. AWS SigV2/SigV4, Google Cloud Storage, Azure SAS, CloudFront, bearer tokens.
SECRET_PREFIXES = ("x-amz-", "x-goog-")
SECRET_PARAMS = {
    "awsaccesskeyid",
    "signature",
    "expires",
    "googleaccessid",
    "sig",
    "se",
    "sp",
    "sv",
    "sr",
    "st",
    "skoid",
    "sktid",
    "skt",
    "ske",
    "sks",
    "skv",
    "key-pair-id",
    "policy",
    "token",
    "access_token",
    "api_key",
    "apikey",
}


URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")  # a URL inside any text


def is_secret_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_PARAMS or lowered.startswith(SECRET_PREFIXES)


def redact_url(value: object) -> object:
    """``value`` without userinfo and credential query parameters; non-URLs unchanged."""
    if not isinstance(value, str) or "://" not in value and "?" not in value:
        return value
    parts = urlsplit(value)
    netloc = parts.netloc.rpartition("@")[2]
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = [(k, v) for k, v in query if not is_secret_param(k)]
    if netloc == parts.netloc and len(kept) == len(query):
        return value  # nothing to remove: keep the exact spelling
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(kept)))


def redact_text(value: object) -> object:
    """``value`` with every URL in it redacted (an error message that quotes its source)."""
    if not isinstance(value, str):
        return value
    if "://" not in value:
        return redact_url(value)
    return URL.sub(lambda m: str(redact_url(m.group(0))), value)


def redact_columns(
    frame: pd.DataFrame, columns: tuple[str, ...] = ("image", "source", "detail")
) -> pd.DataFrame:
    """A copy of ``frame`` with the text ``columns`` it has redacted."""
    out = frame.copy()
    for column in columns:
        if column in out.columns:
            out[column] = [redact_text(v) for v in out[column]]
    return out
