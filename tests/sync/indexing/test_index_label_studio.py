"""`winnow index --project ID` against a real Label Studio: a project imported from a folder of
real photos lands in Qdrant Edge with its labels, and relabelling or deleting tasks in Label
Studio is reflected by the next run, which writes nothing else."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio as LSClient

from sync.importing.job import ImportOptions, run_import
from sync.indexing.job import index_frame
from sync.project_frame import project_frame
from winnow.config import ImageIOSettings, LabelStudioSettings, get_settings
from winnow.index import SearchFilter, open_index
from winnow.models import make_embedder
from winnow.services import LabelStudio

pytestmark = pytest.mark.integration

CLASSES = {
    "cat": ["chelsea.png", "chelsea.webp"],
    "drink": ["coffee.jpg", "coffee.tif"],
    "person": ["astronaut.bmp", "astronaut_gray.png"],
}


def test_index_follows_the_project(
    tmp_path: Path,
    label_studio: LabelStudio,
    ls_settings: LabelStudioSettings,
    ls_files_root: Path,
    real_images_dir: Path,
) -> None:
    folder = ls_files_root / f"index-{uuid.uuid4().hex[:6]}"
    for label, names in CLASSES.items():
        (folder / label).mkdir(parents=True)
        for name in names:
            shutil.copy(real_images_dir / name, folder / label / name)
    settings = get_settings(
        data_dir=tmp_path / "data",
        label_studio=ls_settings,
        io=ImageIOSettings(allowed_hosts=["127.0.0.1"], http_retries=1, http_timeout_s=10),
        features={"workers": 0},
    )
    imported = run_import(
        ImportOptions(str(folder), f"index {uuid.uuid4().hex[:6]}"), settings=settings
    )
    project = imported.project_id
    embedder = make_embedder(settings.embedding)

    def run():  # type: ignore[no-untyped-def]
        index = open_index(settings)
        try:
            frame = project_frame(settings, project)
            done = index_frame(
                frame, settings=settings, index=index, embedder=embedder, project=project
            )
            return done, index.count(SearchFilter(labels="cat"))
        finally:
            index.close()

    first, cats = run()
    assert (first.sync.upserted, first.total_points, cats) == (6, 6, 2)

    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    tasks = {Path(t.data["winnow_source"]).name: t for t in client.tasks.list(project=project)}
    astronaut = tasks["astronaut.bmp"]
    annotation = client.annotations.list(id=astronaut.id)[0]
    client.annotations.update(
        id=annotation.id,
        result=[
            {
                "from_name": "label",
                "to_name": "image",
                "type": "choices",
                "value": {"choices": ["cat"]},
            }
        ],
    )
    client.tasks.delete(id=tasks["coffee.tif"].id)

    second, cats = run()
    assert (second.sync.upserted, second.sync.unchanged, second.sync.deleted) == (1, 4, 1)
    assert (second.total_points, cats) == (5, 3)
    third, _ = run()
    assert (third.sync.upserted, third.sync.deleted, third.sync.unchanged) == (0, 0, 5)
