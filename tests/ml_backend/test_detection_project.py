"""A real Label Studio detection project (RectangleLabels) pre-annotated by our backend.

The detector is the real Haar face detector (``detection.backend: haar``), mapped onto the
project's "Face" label by name; the astronaut photo has one face at a known place, the cat
photo none. Label Studio stores our regions as it would a user's.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio as LSClient
from PIL import Image
from skimage import data

from ml_backend.server import BackendServer
from winnow.config import LabelStudioSettings, get_settings
from winnow.services import LabelStudio

pytestmark = pytest.mark.integration

LABEL_CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="objects" toName="image">
    <Label value="Face"/><Label value="Car"/>
  </RectangleLabels>
</View>"""


def test_detection_project_gets_face_boxes(
    label_studio: LabelStudio, ls_settings: LabelStudioSettings, ls_files_root: Path, tmp_path: Path
):
    folder = ls_files_root / f"detect-{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    Image.fromarray(data.astronaut()).save(folder / "astronaut.jpg", quality=92)
    Image.fromarray(data.chelsea()).save(folder / "chelsea.jpg", quality=92)
    settings = get_settings(
        data_dir=tmp_path / "store",
        detection={"backend": "haar"},
        label_studio=ls_settings,
    )
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    project = client.projects.create(title="faces", label_config=LABEL_CONFIG)
    client.import_storage.local.create(project=project.id, path=str(folder), use_blob_urls=True)
    urls = [f"/data/local-files/?d={folder.name}/{n}" for n in ("astronaut.jpg", "chelsea.jpg")]
    client.projects.import_tasks(id=project.id, request=[{"image": u} for u in urls])
    try:
        with BackendServer(settings) as backend:
            ml = client.ml.create(url=backend.url, project=project.id, title="Winnow")
            version = client.ml.get(ml.id).model_version
            assert version.startswith("detect-haar-frontalface@")
            client.actions.create(id="retrieve_tasks_predictions", project=project.id)
        tasks = {t.data["image"]: t for t in client.tasks.list(project=project.id, fields="all")}
        [face] = tasks[urls[0]].predictions
        [region] = face.result
        assert face.model_version == version and region["type"] == "rectanglelabels"
        assert region["value"]["rectanglelabels"] == ["Face"]
        assert (region["original_width"], region["original_height"]) == (512, 512)
        # the face spans about x 177-270, y 67-160 of 512 pixels
        assert 30 < region["value"]["x"] < 40 and 10 < region["value"]["y"] < 17
        assert 15 < region["value"]["width"] < 22 and 15 < region["value"]["height"] < 22
        [cat] = tasks[urls[1]].predictions
        assert cat.result == [] and cat.model_version == version
    finally:
        shutil.rmtree(folder, ignore_errors=True)
