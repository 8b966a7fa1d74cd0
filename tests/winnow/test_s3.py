"""The S3 client factory: one credential check, the endpoint and addressing options, retries,
and SigV4 presigning, checked on the built client and against a real S3 server (SeaweedFS)."""

from __future__ import annotations

import socket
import uuid

import httpx
import pytest
from botocore.exceptions import EndpointConnectionError
from pydantic import SecretStr

from winnow.config import S3Settings
from winnow.errors import ConfigError
from winnow.s3 import s3_client
from winnow.services import SeaweedFS

ENDPOINT = "http://127.0.0.1:8333"  # never contacted by the unit tests


def _keys(**kwargs) -> S3Settings:
    return S3Settings(
        access_key_id=SecretStr("winnow-test-key"),
        secret_access_key=SecretStr("winnow-test-secret-value"),
        **kwargs,
    )


@pytest.mark.parametrize(
    "half",
    [
        {"access_key_id": SecretStr("only-the-key-id")},
        {"secret_access_key": SecretStr("only-the-secret")},
    ],
)
def test_half_a_key_pair_names_both_settings_and_variables(half: dict) -> None:
    with pytest.raises(ConfigError) as info:
        s3_client(S3Settings(endpoint_url=ENDPOINT, **half))
    message = str(info.value)
    for name in ("s3.access_key_id", "s3.secret_access_key"):
        assert name in message
    for name in ("WINNOW_S3__ACCESS_KEY_ID", "WINNOW_S3__SECRET_ACCESS_KEY"):
        assert name in message


def test_presigning_without_keys_names_the_variables() -> None:
    with pytest.raises(ConfigError, match="presigned URLs need") as info:
        s3_client(S3Settings(endpoint_url=ENDPOINT), presign=True)
    assert "WINNOW_S3__ACCESS_KEY_ID and WINNOW_S3__SECRET_ACCESS_KEY" in str(info.value)


def test_a_configured_endpoint_is_used_with_path_addressing_keys_and_retries() -> None:
    client = s3_client(
        _keys(endpoint_url=ENDPOINT, region="eu-west-1"),
        attempts=4,
        connect_timeout_s=2.5,
        read_timeout_s=7.0,
    )
    config = client.meta.config
    assert client.meta.endpoint_url == ENDPOINT
    assert client.meta.region_name == "eu-west-1"
    assert config.s3 == {"addressing_style": "path"}
    assert config.retries == {"total_max_attempts": 4, "mode": "standard"}
    assert (config.connect_timeout, config.read_timeout) == (2.5, 7.0)
    assert "winnow/" in config.user_agent_extra
    assert client._request_signer._credentials.access_key == "winnow-test-key"


def test_attempts_count_every_try_including_the_first() -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    client = s3_client(_keys(endpoint_url=closed), attempts=2, connect_timeout_s=1)
    sent: list[str] = []
    client.meta.events.register("before-send.s3", lambda request, **_: sent.append(request.url))
    with pytest.raises(EndpointConnectionError):
        client.list_buckets()
    assert len(sent) == 2


def test_without_an_endpoint_aws_is_used_with_boto3s_default_addressing() -> None:
    client = s3_client(_keys(region="eu-west-1"))
    assert client.meta.endpoint_url == "https://s3.eu-west-1.amazonaws.com"
    assert not client.meta.config.s3


def test_without_keys_boto3s_own_credential_chain_applies(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-from-the-environment")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-the-environment")
    client = s3_client(S3Settings(endpoint_url=ENDPOINT))
    assert client._request_signer._credentials.access_key == "key-from-the-environment"


def test_presigned_urls_are_sigv4_and_path_style() -> None:
    client = s3_client(_keys(endpoint_url=ENDPOINT), presign=True)
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": "photos", "Key": "cats/a.jpg"}, ExpiresIn=60
    )
    assert url.startswith(f"{ENDPOINT}/photos/cats/a.jpg?")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url


@pytest.mark.integration
def test_clients_from_the_factory_work_against_a_real_s3_server(seaweedfs: SeaweedFS) -> None:
    settings = S3Settings(
        endpoint_url=seaweedfs.endpoint_url,
        region=seaweedfs.region,
        access_key_id=SecretStr(seaweedfs.access_key),
        secret_access_key=SecretStr(seaweedfs.secret_key),
    )
    client = s3_client(settings)
    bucket = f"factory-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    assert bucket in [b["Name"] for b in client.list_buckets()["Buckets"]]

    client.put_object(Bucket=bucket, Key="a/b.txt", Body=b"payload")
    listed = client.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("a/b.txt", 7)]
    url = s3_client(settings, presign=True).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "a/b.txt"}, ExpiresIn=60
    )
    response = httpx.get(url)  # no keys: only the signature in the URL grants access
    assert response.status_code == 200 and response.content == b"payload"
    unsigned = httpx.get(url.split("?", 1)[0])
    assert unsigned.status_code == 403
