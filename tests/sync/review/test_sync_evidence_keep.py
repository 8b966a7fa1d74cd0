"""A task's evidence panel is rewritten only when what the reviewer acts on changed: a label
edit on a task another panel shows (a neighbour, an exact copy) does not rewrite that panel;
a change of the task's own findings, label or partners does; ``--refresh-evidence`` rewrites
every panel; and a sync that changed nothing builds no panel at all. Unit tests on real photos
(scikit-image) in a real feature store, then one run against a real Label Studio."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import httpx
import pytest
from label_studio_sdk import LabelStudio as LSClient
from PIL import Image
from pydantic import SecretStr
from skimage import data

from sync.review import job
from sync.review.evidence import evidence_panels
from sync.review.evidence_keep import material_fingerprints, panel_fingerprint
from sync.review.push import panels_wanted, plan_push
from sync.review.state import Finding, TaskRow
from winnow.config import ImageIOSettings, LabelStudioSettings, get_settings
from winnow.features.measure import measure_image
from winnow.labelstudio.label_config import build_label_config, find_label_control
from winnow.services import LabelStudio
from winnow.store import FeatureStore, ImageRecord

CONTROL = find_label_control(build_label_config(["bird", "cat", "dog"]))
PHOTOS = {"chelsea": "1" * 64, "coffee": "2" * 64, "astronaut": "3" * 64, "camera": "4" * 64}


def _task(task_id: int, label: str, sha: str, **data) -> TaskRow:
    image = f"/data/upload/1/{task_id}.png"
    result = [{"from_name": "label", "to_name": "image", "type": "choices"}]
    result[0]["value"] = {"choices": [label]}
    annotations = [{"id": task_id, "updated_at": "2026-01-01", "result": result}]
    return TaskRow(task_id, "t", {"image": image, **data}, {}, annotations, [], image, sha)


def _copy(task_id: int, label: str, keeper: int = 1) -> Finding:
    details = f"same bytes as task {keeper}"
    return Finding(task_id, "exact_duplicate", 1.0, "dup-0", label, None, details, None)


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    """Real photos measured into a feature store (coffee blurred: a real quality flag)."""
    records = []
    for name, sha in PHOTOS.items():
        image = Image.fromarray(getattr(data, name)()).convert("RGB")
        if name == "coffee":
            image = image.resize((32, 32)).resize(image.size)
        records.append(
            ImageRecord(sha, 1, "PNG", *image.size, "RGB", measurements=measure_image(image))
        )
    with FeatureStore(tmp_path / "f.sqlite") as opened:
        opened.put_images(records)
        yield opened


def _project(labels: dict[int, str]) -> tuple[list[TaskRow], list[Finding]]:
    """Tasks 1-4: one photo four times (1 the keeper, 2-4 flagged copies naming each other's
    labels); 5 a blurry photo; 6, 7 other photos."""
    chelsea, coffee = PHOTOS["chelsea"], PHOTOS["coffee"]
    tasks = [_task(i, labels.get(i, "cat"), chelsea) for i in (1, 2, 3, 4)]
    tasks += [
        _task(5, labels.get(5, "cat"), coffee),
        _task(6, "dog", PHOTOS["astronaut"]),
        _task(7, "dog", PHOTOS["camera"]),
    ]
    findings = [_copy(i, labels.get(i, "cat")) for i in (2, 3, 4)]
    findings.append(Finding(5, "blurry", 0.8, None, "cat", None, "Laplacian variance 3.1", None))
    return tasks, findings


def _written(tasks: list[TaskRow], plans) -> list[TaskRow]:
    """The tasks as Label Studio holds them after the plans' PATCHes."""
    by_id = {p.task.task_id: p for p in plans if p.data is not None}
    return [
        dataclasses.replace(t, data=by_id[t.task_id].data, meta=by_id[t.task_id].meta)
        if t.task_id in by_id
        else t
        for t in tasks
    ]


def _relabelled(new: TaskRow, written: TaskRow) -> TaskRow:
    """``written`` (as Label Studio holds it) with the annotations of ``new``."""
    return dataclasses.replace(written, annotations=new.annotations)


def _by_id(tasks: list[TaskRow]) -> dict[int, TaskRow]:
    return {t.task_id: t for t in tasks}


def _sync(tasks, findings, store, as_of: str, *, refresh: bool = False):
    """One push as ``run_sync`` does it: the panels wanted, built, planned; then written."""
    wanted = panels_wanted(tasks, findings, refresh_evidence=refresh)
    panels = evidence_panels(
        1, tasks, findings, control=CONTROL, store=store, model_id=None, only=wanted, as_of=as_of
    )
    plans = plan_push(tasks, findings, CONTROL, panels, refresh_evidence=refresh)
    return wanted, plans, _written(tasks, plans)


def test_a_neighbours_label_edit_keeps_the_other_panels(store: FeatureStore) -> None:
    tasks, findings = _project({})
    wanted, plans, written = _sync(tasks, findings, store, "T1")
    assert wanted == {2, 3, 4, 5} and {p.task.task_id for p in plans} == {2, 3, 4, 5}
    assert "task 3 · cat" in written[1].data["winnow_evidence"]  # task 2 shows its copy 3

    edited, findings = _project({3: "dog"})  # a reviewer relabels copy 3
    edited = [_relabelled(e, w) for e, w in zip(edited, written, strict=True)]
    fresh = evidence_panels(1, edited, findings, control=CONTROL, store=store, model_id=None)
    assert "task 3 · dog" in fresh[2] and fresh[2] != written[1].data["winnow_evidence"]

    wanted, plans, after = _sync(edited, findings, store, "T2")
    assert wanted == {3} and [p.task.task_id for p in plans] == [3]  # its own label changed
    assert after[1].data == written[1].data  # task 2 kept, naming copy 3's old label
    assert "task 3 · cat" in after[1].data["winnow_evidence"]
    assert "Built T1." in after[1].data["winnow_evidence"]  # and saying how old it is
    assert "Built T2." in after[2].data["winnow_evidence"]
    assert panels_wanted(after, findings) == set()  # nothing left to build: a no-op


def test_a_change_of_the_tasks_own_findings_rewrites_its_panel(store: FeatureStore) -> None:
    tasks, findings = _project({})
    _, _, written = _sync(tasks, findings, store, "T1")

    # the keeper was deleted: copies now name task 2 as the one to keep, 2 is no longer flagged
    rest = [t for t in written if t.task_id != 1]
    moved = [_copy(i, "cat", keeper=2) for i in (3, 4)] + findings[3:]
    wanted, plans, after = _sync(rest, moved, store, "T2")
    assert wanted == {3, 4} and {p.task.task_id for p in plans} == {2, 3, 4}
    by_id = {t.task_id: t for t in after}
    assert by_id[2].data["winnow_evidence"] == ""  # cleared: no finding left
    assert "Built T2." in by_id[3].data["winnow_evidence"]

    # a new flag on the blurry task; a label issue whose suggested label then changes
    dark = Finding(5, "dark", 0.7, None, "cat", None, "brightness 0.1", None)
    wanted, plans, after = _sync(after, [*moved, dark], store, "T3")
    assert wanted == {5} and "Dark" in _by_id(after)[5].data["winnow_evidence"]
    issue = Finding(6, "label_issue", 0.9, None, "dog", "cat", "p(cat)=0.87", None)
    _, _, after = _sync(after, [*moved, dark, issue], store, "T4")
    kept = _by_id(after)[6].data["winnow_evidence"]
    assert panels_wanted(after, [*moved, dark, issue]) == set()
    other = dataclasses.replace(issue, suggested_label="bird", details="p(bird)=0.6")
    wanted, plans, after = _sync(after, [*moved, dark, other], store, "T5")
    now = _by_id(after)[6].data["winnow_evidence"]
    assert wanted == {6} and "bird (p = 0.6)" in now and "Built T5." in now
    assert panel_fingerprint(now) != panel_fingerprint(kept)


def test_refresh_rewrites_every_flagged_panel(store: FeatureStore) -> None:
    tasks, findings = _project({})
    _, _, written = _sync(tasks, findings, store, "T1")
    edited, findings = _project({3: "dog"})
    edited = [_relabelled(e, w) for e, w in zip(edited, written, strict=True)]
    _, _, after = _sync(edited, findings, store, "T2")

    wanted, plans, refreshed = _sync(after, findings, store, "T3", refresh=True)
    assert wanted == {2, 3, 4, 5} and {p.task.task_id for p in plans} == {2, 3, 4, 5}
    assert "task 3 · dog" in refreshed[1].data["winnow_evidence"]
    assert "Built T3." in refreshed[1].data["winnow_evidence"]


def test_fingerprint_ignores_score_drift_and_context_but_not_findings() -> None:
    base = Finding(6, "label_issue", 0.91, None, "dog", "cat", "p(cat)=0.87", None)
    same = material_fingerprints([base])[6]
    drifted = dataclasses.replace(base, score=0.93, details="p(cat)=0.89")
    assert material_fingerprints([drifted])[6] == same
    for changed in (
        dataclasses.replace(base, score=0.6),
        dataclasses.replace(base, suggested_label="bird"),
        dataclasses.replace(base, given_label="bird"),
        dataclasses.replace(base, issue_type="possible_label_issue"),
    ):
        assert material_fingerprints([changed])[6] != same
    # a copy's flag on another task (same group) does not enter this task's fingerprint
    assert (
        material_fingerprints([_copy(2, "cat")])[2]
        == material_fingerprints([_copy(2, "cat"), _copy(3, "cat")])[2]
    )
    assert panel_fingerprint("<div>written by an older sync</div>") is None


def test_a_panel_from_an_older_sync_is_rebuilt_once(store: FeatureStore) -> None:
    tasks, findings = _project({})
    old = [
        dataclasses.replace(t, data={**t.data, "winnow_evidence": "<div>old</div>"}) for t in tasks
    ]
    wanted, _, written = _sync(old, findings, store, "T1")
    assert wanted == {2, 3, 4, 5}
    assert panels_wanted(written, findings) == set()


# -- against a real Label Studio ----------------------------------------------------------


def _ls_tasks(ls: LabelStudio, project: int) -> dict[int, dict]:
    params = {"project": project, "fields": "all", "page_size": 100, "resolve_uri": "false"}
    answer = httpx.get(f"{ls.url}/api/tasks", params=params, headers=ls.auth_headers, timeout=30)
    answer.raise_for_status()
    return {t["id"]: t for t in answer.json()["tasks"]}


@pytest.mark.integration
def test_sync_keeps_panels_builds_none_on_a_no_op_and_refreshes_on_demand(
    tmp_path: Path,
    label_studio: LabelStudio,
    ls_files_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = ls_files_root / f"keep-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    Image.fromarray(data.chelsea()).save(folder / "chelsea.png")
    Image.fromarray(data.coffee()).save(folder / "coffee.png")
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    project = client.projects.create(
        title=f"keep {folder.name}", label_config=build_label_config(["cat", "dog"])
    ).id
    client.import_storage.local.create(project=project, path=str(folder), use_blob_urls=True)
    rel = folder.relative_to(ls_files_root).as_posix()
    names = ["chelsea.png"] * 4 + ["coffee.png"]  # four tasks of one file: exact copies
    client.projects.import_tasks(
        id=project,
        request=[
            {
                "data": {"image": f"/data/local-files/?d={rel}/{name}"},
                "annotations": [
                    {
                        "result": [
                            {
                                "from_name": "label",
                                "to_name": "image",
                                "type": "choices",
                                "value": {"choices": ["cat"]},
                            }
                        ]
                    }
                ],
            }
            for name in names
        ],
        commit_to_project=True,
    )
    settings = get_settings(
        data_dir=tmp_path / "winnow-data",
        label_studio=LabelStudioSettings(
            url=label_studio.url, api_key=SecretStr(label_studio.api_key)
        ),
        io=ImageIOSettings(allowed_hosts=["127.0.0.1"], http_retries=1, http_timeout_s=10),
        features={"workers": 0},
    )
    first = job.run_sync(settings, project, embed=False)
    tasks = _ls_tasks(label_studio, project)
    flagged = {i for i, t in tasks.items() if t["data"].get("winnow_flags")}
    copies = sorted(i for i in flagged if "exact_duplicate" in tasks[i]["data"]["winnow_flags"])
    assert len(copies) == 3 and first.panels_built == len(flagged)
    other, edited = copies[0], copies[1]
    assert f"task {edited} · cat" in tasks[other]["data"]["winnow_evidence"]

    annotation = tasks[edited]["annotations"][0]
    result = [dict(r) for r in annotation["result"]]
    result[0]["value"] = {"choices": ["dog"]}
    client.annotations.update(id=annotation["id"], result=result)
    after_edit = job.run_sync(settings, project, embed=False)
    now = _ls_tasks(label_studio, project)
    assert after_edit.audited and after_edit.pushed.tasks_updated == 1  # only the edited copy
    assert after_edit.panels_built == 1
    assert now[other]["updated_at"] == tasks[other]["updated_at"]
    assert now[other]["data"]["winnow_evidence"] == tasks[other]["data"]["winnow_evidence"]
    assert now[edited]["data"]["winnow_evidence"] != tasks[edited]["data"]["winnow_evidence"]

    built = []
    monkeypatch.setattr(job, "review_evidence", lambda *a, **k: built.append(a) or {})
    noop = job.run_sync(settings, project, embed=False)
    assert not noop.audited and noop.pushed.writes == 0 and built == []
    monkeypatch.undo()

    refreshed = job.run_sync(settings, project, embed=False, refresh_evidence=True)
    now = _ls_tasks(label_studio, project)
    assert refreshed.panels_built == len(flagged) and refreshed.pushed.tasks_updated >= 2
    assert f"task {edited} · dog" in now[other]["data"]["winnow_evidence"]
