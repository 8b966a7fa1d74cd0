"""Image I/O against real servers: S3 (SeaweedFS) and Label Studio local-file URLs,
and the feature pipeline reading both through worker processes."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio as LSClient
from pydantic import SecretStr

from winnow.config import LabelStudioSettings, S3Settings, Settings, get_settings
from winnow.errors import FetchError
from winnow.features.extract import extract_features
from winnow.features.walk import SourceItem
from winnow.imageio import ImageReader, decode_image
from winnow.services import LabelStudio, SeaweedFS
from winnow.store import FeatureStore

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View><Image name="image" value="$image"/>
<Choices name="label" toName="image"><Choice value="cat"/></Choices></View>"""


def _settings(tmp_path: Path, seaweedfs: SeaweedFS, ls_settings: LabelStudioSettings) -> Settings:
    return get_settings(
        data_dir=tmp_path / "store",
        s3=S3Settings(
            endpoint_url=seaweedfs.endpoint_url,
            access_key_id=SecretStr(seaweedfs.access_key),
            secret_access_key=SecretStr(seaweedfs.secret_key),
        ),
        label_studio=ls_settings,
        features={"workers": 2},
    )


@pytest.fixture(scope="module")
def bucket(seaweedfs: SeaweedFS, real_images_dir: Path) -> str:
    name = seaweedfs.create_bucket(f"images-{uuid.uuid4().hex[:8]}")
    client = seaweedfs.client()
    for path in sorted(real_images_dir.iterdir()):
        client.put_object(Bucket=name, Key=f"photos/{path.name}", Body=path.read_bytes())
    client.put_object(Bucket=name, Key="photos/broken.jpg", Body=b"not an image")
    return name


@pytest.fixture(scope="module")
def ls_urls(label_studio: LabelStudio, ls_files_root: Path, real_images_dir: Path) -> list[str]:
    folder = ls_files_root / f"set-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    for path in sorted(real_images_dir.iterdir()):
        (folder / path.name).write_bytes(path.read_bytes())
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    project = client.projects.create(title=folder.name, label_config=LABEL_CONFIG)
    client.import_storage.local.create(project=project.id, path=str(folder), use_blob_urls=True)
    return [f"/data/local-files/?d={folder.name}/{p.name}" for p in sorted(folder.iterdir())]


def test_reads_s3_objects_and_reports_missing_keys(
    tmp_path: Path,
    seaweedfs: SeaweedFS,
    label_studio: LabelStudio,
    ls_settings: LabelStudioSettings,
    bucket: str,
    real_images_dir: Path,
) -> None:
    s = _settings(tmp_path, seaweedfs, ls_settings)
    with ImageReader(s.io, s.label_studio, s.s3) as reader:
        got = reader.read(f"s3://{bucket}/photos/chelsea.png")
        assert got == (real_images_dir / "chelsea.png").read_bytes()
        assert decode_image(got, "chelsea", max_pixels=s.io.max_pixels).width == 451
        with pytest.raises(FetchError, match="missing.png"):
            reader.read(f"s3://{bucket}/photos/missing.png")


def test_reads_label_studio_urls_with_the_key_and_fails_clearly_without(
    tmp_path: Path,
    seaweedfs: SeaweedFS,
    label_studio: LabelStudio,
    ls_settings: LabelStudioSettings,
    ls_urls: list[str],
    real_images_dir: Path,
) -> None:
    s = _settings(tmp_path, seaweedfs, ls_settings)
    chelsea = next(u for u in ls_urls if u.endswith("chelsea.png"))
    with ImageReader(s.io, s.label_studio, s.s3) as reader:
        assert reader.read(chelsea) == (real_images_dir / "chelsea.png").read_bytes()
        assert reader.read(label_studio.url + chelsea)[:8] == b"\x89PNG\r\n\x1a\n"
    keyless = LabelStudioSettings(url=label_studio.url)
    with ImageReader(s.io, keyless, s.s3) as reader, pytest.raises(FetchError, match="401"):
        reader.read(chelsea)


def test_pipeline_reads_s3_and_label_studio_in_workers(
    tmp_path: Path,
    seaweedfs: SeaweedFS,
    label_studio: LabelStudio,
    ls_settings: LabelStudioSettings,
    bucket: str,
    ls_urls: list[str],
) -> None:
    s = _settings(tmp_path, seaweedfs, ls_settings)
    keys = seaweedfs.client().list_objects_v2(Bucket=bucket, Prefix="photos/")["Contents"]
    items = [SourceItem(f"s3://{bucket}/{o['Key']}") for o in keys]
    items += [SourceItem(u) for u in ls_urls]
    with FeatureStore(s.store_path) as store:
        report = extract_features(items, settings=s, store=store)
        assert report.errors == {"not_an_image": 1}
        ok = len(items) - 1
        assert report.computed + report.cache_hits == ok
        sources = store.sources_frame()
        # the same bytes in S3 and in Label Studio are one content
        assert sources["sha256"].dropna().nunique() == len(ls_urls) + 1
        again = extract_features(items, settings=s, store=store)
        assert again.cache_hits == len(items) and again.computed == 0
