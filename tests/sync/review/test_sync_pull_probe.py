"""A pull when nothing changed costs one small request: the newest ``updated_at`` and the
task count. Any change a listing would see (a data edit, an annotation, a new task, a
deletion) must still make the pull list and re-read, against a real Label Studio: a listing
of the tasks updated since the last pull when nothing was deleted, the whole project when
something was."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio as LSClient

import sync.review.pull as pull_module
from sync.review.pull import image_key_of, pull, task_row
from sync.review.state import SyncState
from winnow.labelstudio import connect
from winnow.labelstudio.label_config import build_label_config
from winnow.services import LabelStudio

pytestmark = pytest.mark.integration


def _image(i: int) -> dict:
    return {"image": f"/data/local-files/?d=none/{i}.png"}


def test_only_a_change_makes_the_pull_list_the_project(
    tmp_path: Path, label_studio: LabelStudio, ls_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    config = build_label_config(["cat", "dog"])
    project = client.projects.create(title=f"probe {uuid.uuid4().hex[:6]}", label_config=config)
    client.projects.import_tasks(
        id=project.id, request=[{"data": _image(i)} for i in range(5)], commit_to_project=True
    )
    listings: list[str] = []
    sizes: list[int] = []
    real = pull_module._listing

    def counting(ls, project, filters=None):
        listings.append("all" if filters is None else "since")
        items = list(real(ls, project, filters))
        sizes.append(len(items))
        return iter(items)

    monkeypatch.setattr(pull_module, "_listing", counting)
    ls = connect(ls_settings)
    with SyncState(tmp_path / "sync.sqlite") as state:

        def again() -> tuple[list[str], int, int]:
            before = len(listings)
            report = pull(ls, project.id, state, page_size=10)
            assert report.total == len(client.tasks.list(project=project.id).items)
            return listings[before:], report.fetched, report.deleted

        assert pull(ls, project.id, state, page_size=10).fetched == 5
        assert again() == ([], 0, 0)  # nothing changed: the probe alone, no listing
        ids = sorted(state.task_ids(project.id))

        client.tasks.update(id=ids[1], data=_image(99))
        assert again() == (["since"], 1, 0)  # only what changed since the last pull is listed
        assert sizes[-1] <= 2  # the edit, and the task at the watermark itself (>=), not all 5
        assert again() == ([], 0, 0)
        assert state.tasks(project.id)[1].data == _image(99)

        client.annotations.create(
            id=ids[2],
            result=[
                {
                    "from_name": "label",
                    "to_name": "image",
                    "type": "choices",
                    "value": {"choices": ["dog"]},
                }
            ],
        )
        assert again() == (["since"], 1, 0)

        client.tasks.delete(id=ids[0])
        assert again() == (["since", "all"], 0, 1)  # the count misses one: list everything
        assert ids[0] not in state.task_ids(project.id)

        client.projects.import_tasks(
            id=project.id, request=[{"data": _image(7)}], commit_to_project=True
        )
        assert again() == (["since"], 1, 0)
        assert again() == ([], 0, 0)
        assert len(state.task_ids(project.id)) == 5

        # The sync's own writes (stored with the updated_at they produced) are not re-read,
        # and once a no-op pull has seen them they leave the filtered listing too.
        image_key = image_key_of(config)
        for task_id in sorted(state.task_ids(project.id))[:3]:
            own = client.tasks.update(id=task_id, data={**_image(task_id), "winnow_flag": 1})
            state.put_tasks(project.id, [task_row(own.model_dump(mode="json"), image_key)])
        assert again() == ([], 0, 0)
        client.tasks.update(id=ids[4], data=_image(44))
        assert again() == (["since"], 1, 0)
        assert sizes[-1] <= 2  # the edit and the watermark's own task, not the three own writes


def test_first_pull_reads_every_task_by_selection_across_pages(
    tmp_path: Path, label_studio: LabelStudio, ls_settings
) -> None:
    """The first pull re-reads by id selection, page_size ids a request: every task arrives
    once, with its annotations, however the ids split into pages."""
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    config = build_label_config(["cat", "dog"])
    project = client.projects.create(title=f"pages {uuid.uuid4().hex[:6]}", label_config=config)
    cat = {"from_name": "label", "to_name": "image", "type": "choices"}
    cat["value"] = {"choices": ["cat"]}
    tasks = [{"data": _image(i), "annotations": [{"result": [cat]}]} for i in range(23)]
    client.projects.import_tasks(id=project.id, request=tasks, commit_to_project=True)
    with SyncState(tmp_path / "sync.sqlite") as state:
        report = pull(connect(ls_settings), project.id, state, page_size=5)
        rows = state.tasks(project.id)
    assert (report.fetched, report.total, report.full) == (23, 23, True)
    assert sorted(r.data["image"] for r in rows) == sorted(_image(i)["image"] for i in range(23))
    assert all(len(r.annotations) == 1 for r in rows)
