"""s3:// sources. moto is not installed, so S3 answers come from botocore's Stubber, which
checks every request and response against the real S3 API model. A real S3 server
(SeaweedFS) is exercised by the integration tests."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from pydantic import SecretStr

from winnow.config import ImageIOSettings, S3Settings
from winnow.errors import BlockedSourceError, ConfigError, FetchError, TooLargeError
from winnow.imageio import ImageReader

ENDPOINT = "http://127.0.0.1:8333"  # never contacted: the Stubber answers first


@pytest.fixture(scope="module")
def coffee(real_images_dir: Path) -> bytes:
    return (real_images_dir / "coffee.jpg").read_bytes()


def _s3(**kwargs) -> S3Settings:
    return S3Settings(
        endpoint_url=ENDPOINT,
        access_key_id=SecretStr("winnow-test-key"),
        secret_access_key=SecretStr("winnow-test-secret-value"),
        **kwargs,
    )


class _TrackedBytes(io.BytesIO):
    """Counts how many bytes the reader actually pulled from the (pretend) network."""

    pulled = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.pulled += len(chunk)
        return chunk


def _object(body: bytes) -> tuple[dict, _TrackedBytes]:
    raw = _TrackedBytes(body)
    return {"Body": StreamingBody(raw, len(body)), "ContentLength": len(body)}, raw


def test_object_bytes_are_returned(coffee: bytes):
    reader = ImageReader(ImageIOSettings(), s3=_s3())
    response, raw = _object(coffee)
    with reader, Stubber(reader._s3.client()) as stub:
        stub.add_response("get_object", response, {"Bucket": "photos", "Key": "cats/c 1?.jpg"})
        assert reader.read("s3://photos/cats/c 1?.jpg") == coffee
        stub.assert_no_pending_responses()
    assert raw.closed


def test_client_is_built_lazily_once_with_the_configured_endpoint_and_keys():
    reader = ImageReader(ImageIOSettings(), s3=_s3(region="eu-west-1"))
    assert reader._s3._client is None  # a reader that never sees s3:// never imports boto3
    client = reader._s3.client()

    assert reader._s3.client() is client
    assert client.meta.endpoint_url == ENDPOINT
    assert client.meta.region_name == "eu-west-1"
    assert client._request_signer._credentials.access_key == "winnow-test-key"


@pytest.mark.parametrize(
    ("code", "status"), [("NoSuchKey", 404), ("NoSuchBucket", 404), ("AccessDenied", 403)]
)
def test_s3_errors_name_bucket_key_and_code(code: str, status: int):
    reader = ImageReader(ImageIOSettings(), s3=_s3())
    with reader, Stubber(reader._s3.client()) as stub:
        stub.add_client_error("get_object", service_error_code=code, http_status_code=status)
        with pytest.raises(FetchError) as info:
            reader.read("s3://photos/cats/missing.jpg")

    assert not isinstance(info.value, BlockedSourceError)
    assert code in info.value.reason
    assert "'photos'" in info.value.reason
    assert "'cats/missing.jpg'" in info.value.reason


def test_object_over_max_bytes_is_refused_without_reading_the_body(coffee: bytes):
    reader = ImageReader(ImageIOSettings(max_bytes=len(coffee) - 1), s3=_s3())
    response, raw = _object(coffee)
    with reader, Stubber(reader._s3.client()) as stub:
        stub.add_response("get_object", response)
        with pytest.raises(TooLargeError, match=str(len(coffee))):
            reader.read("s3://photos/coffee.jpg")
    assert raw.pulled == 0
    assert raw.closed


@pytest.mark.parametrize("url", ["s3://", "s3://bucket-only", "s3://bucket-only/", "s3:///key"])
def test_s3_url_without_bucket_or_key_is_a_fetch_error(url: str):
    with ImageReader(ImageIOSettings(), s3=_s3()) as reader, pytest.raises(FetchError):
        reader.read(url)


def test_half_configured_credentials_are_a_config_error():
    s3 = S3Settings(endpoint_url=ENDPOINT, access_key_id=SecretStr("only-the-key-id"))
    with ImageReader(ImageIOSettings(), s3=s3) as reader, pytest.raises(ConfigError):
        reader.read("s3://photos/coffee.jpg")
