"""Issue 17, finding 9: the Label Studio key goes only to Label Studio's file paths.

A task image can name any URL on Label Studio's origin. Against a real Label Studio, an image
address pointing at its API (``/api/current-user/whoami``, also through ``..`` tricks) is
fetched without the key and refused with 401, while its file URLs still read with the key.
A recording server standing in for Label Studio shows which requests carried the key,
including the second hop of a redirect from a file path to the API.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from backend_process import RecordingServer, photo_jpeg, recording_server
from label_studio_sdk import LabelStudio as LSClient

from winnow.config import ImageIOSettings, LabelStudioSettings
from winnow.errors import FetchError
from winnow.imageio import ImageReader
from winnow.services import LabelStudio

pytestmark = pytest.mark.integration

LABEL_CONFIG = '<View><Image name="image" value="$image"/></View>'
TOKEN = "f" * 40


def test_label_studio_api_is_not_reachable_with_the_key_through_an_image_address(
    label_studio: LabelStudio,
    ls_settings: LabelStudioSettings,
    ls_files_root: Path,
) -> None:
    folder = ls_files_root / f"token-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    photo = photo_jpeg("chelsea")
    (folder / "chelsea.jpg").write_bytes(photo)
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    project = client.projects.create(title=folder.name, label_config=LABEL_CONFIG)
    client.import_storage.local.create(project=project.id, path=str(folder), use_blob_urls=True)

    with ImageReader(ImageIOSettings(http_retries=0), ls_settings) as reader:
        assert reader.read(f"/data/local-files/?d={folder.name}/chelsea.jpg") == photo
        for address in (
            f"{label_studio.url}/api/current-user/whoami",
            f"{label_studio.url}/data/upload/../../api/current-user/whoami",
            f"{label_studio.url}/data/upload/%2e%2e/%2e%2e/api/current-user/whoami",
        ):
            with pytest.raises(FetchError) as refused:
                reader.read(address)
            assert "401" in refused.value.reason or "404" in refused.value.reason, address


@pytest.fixture
def fake_label_studio() -> Iterator[RecordingServer]:
    with recording_server(photo_jpeg("coffee")) as server:
        yield server


def test_only_file_paths_carry_the_key(fake_label_studio: RecordingServer) -> None:
    origin = fake_label_studio.origin
    fake_label_studio.redirects["/data/upload/1/moved.jpg"] = "/api/projects/1/export"
    settings = LabelStudioSettings(url=origin, api_key=TOKEN)
    with ImageReader(ImageIOSettings(http_retries=0), settings) as reader:
        for address in (
            "/data/upload/1/a.jpg",
            "/data/local-files/?d=b.jpg",
            f"{origin}/data/local-files?d=c.jpg",
            f"{origin}/api/projects/",
            f"{origin}/data/upload/%2e%2e/%2e%2e/api/users",
            f"{origin}/DATA/upload/1/a.jpg",
            f"{origin}/",
            "/data/upload/1/moved.jpg",
        ):
            reader.read(address)

    got = dict(fake_label_studio.requests)
    keyed = {path for path, auth in fake_label_studio.requests if auth == f"Token {TOKEN}"}
    assert keyed == {
        "/data/upload/1/a.jpg",
        "/data/local-files/?d=b.jpg",
        "/data/local-files?d=c.jpg",
        "/data/upload/1/moved.jpg",
    }
    assert got["/api/projects/1/export"] is None  # the redirect's API hop went without it
    assert got["/api/projects/"] is None
