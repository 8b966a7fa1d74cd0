"""Review predictions go in by one bulk import; a run that dies after the import and before
reading the tasks back must not leave a task with two review predictions, and a sync's own
writes must not be re-read by the next pull."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from label_studio_sdk import LabelStudio as LSClient

import sync.review.push as push_module
from sync.review.pull import pull
from sync.review.push import PushReport, push_all
from sync.review.queues import PREDICTION_VERSION
from sync.review.state import Finding, SyncState
from winnow.labelstudio import connect
from winnow.labelstudio.label_config import build_label_config, find_label_control
from winnow.services import LabelStudio

pytestmark = pytest.mark.integration

CONFIG = build_label_config(["cat", "dog"])
CONTROL = find_label_control(CONFIG)


def _project(ls: LabelStudio, n: int) -> int:
    client = LSClient(base_url=ls.url, api_key=ls.api_key)
    project = client.projects.create(title=f"bulk {uuid.uuid4().hex[:6]}", label_config=CONFIG)
    tasks = [{"data": {"image": f"/data/local-files/?d=none/{i}.png"}} for i in range(n)]
    client.projects.import_tasks(id=project.id, request=tasks, commit_to_project=True)
    return project.id


def _review_predictions(ls: LabelStudio, project: int) -> dict[int, int]:
    response = httpx.get(
        f"{ls.url}/api/predictions", params={"project": project}, headers=ls.auth_headers
    )
    response.raise_for_status()
    counts: dict[int, int] = {}
    for p in response.json():
        if p["model_version"] == PREDICTION_VERSION:
            counts[p["task"]] = counts.get(p["task"], 0) + 1
    return counts


def _push(ls: LSClient, project: int, state: SyncState, findings: list[Finding]) -> PushReport:
    """One push of every task, as the sync runs it (two writes in flight)."""
    return push_all(
        ls,
        project,
        state.tasks(project),
        findings,
        control=CONTROL,
        state=state,
        image_key="image",
        workers=2,
    )


def _flags(task_ids: list[int]) -> list[Finding]:
    return [Finding(t, "label_issue", 0.9, None, "cat", "dog", "why", None) for t in task_ids]


def test_a_run_killed_after_the_import_leaves_one_prediction_a_task(
    tmp_path: Path, label_studio: LabelStudio, ls_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(label_studio, 6)
    ls = connect(ls_settings)
    with SyncState(tmp_path / "sync.sqlite") as state:
        pull(ls, project, state, page_size=4)
        ids = sorted(state.task_ids(project))
        findings = [*_flags(ids[:3]), Finding(ids[3], "blurry", 0.7, None, "cat", None, "", None)]

        def killed(*args, **kwargs):
            raise RuntimeError("killed before reading the tasks back")

        with monkeypatch.context() as m:  # the run dies right after the bulk import
            m.setattr(push_module, "fetch_batches", killed)
            with pytest.raises(RuntimeError):
                _push(ls, project, state, findings)
        assert _review_predictions(label_studio, project) == dict.fromkeys(ids[:3], 1)
        assert state.pending_predictions(project) == set(ids[:3])

        report = pull(ls, project, state, page_size=4)  # the next run
        # the three pending tasks only: the blurry task's PATCH stored what it produced
        assert report.fetched == 3 and state.pending_predictions(project) == set()
        again = _push(ls, project, state, findings)
        assert again.writes == 0
        assert _review_predictions(label_studio, project) == dict.fromkeys(ids[:3], 1)

        # the sync's own writes (PATCHes, predictions read back) are not re-read
        assert pull(ls, project, state, page_size=4).fetched == 0
        last = _push(ls, project, state, findings)
        assert last.writes == 0
