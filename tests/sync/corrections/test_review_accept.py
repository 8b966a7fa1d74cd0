"""`winnow review accept` / `undo` against a real Label Studio.

The queue fields and review predictions are written the way ``winnow sync`` writes them
(task data ``winnow_queues`` / ``winnow_label_issue_score`` / ``winnow_suggested_label``, a
prediction of model version ``winnow-review``) instead of running a sync: which tasks a sync
flags as "likely" depends on embeddings and the precision estimate, and this test is about
what accept and undo do with a queue, so it fixes the queue. The state is filled by the
sync's own pull.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from label_studio_sdk import LabelStudio as LSClient

from sync.corrections.accept import accept, undo
from sync.review.batch_log import batches, log_path
from sync.review.pull import pull
from sync.review.queues import LIKELY, POSSIBLE, PREDICTION_VERSION
from sync.review.state import SyncState, state_path
from winnow.labelstudio.label_config import build_label_config
from winnow.services import LabelStudio

pytestmark = pytest.mark.integration

# name -> (given label or None, queue, score, suggested label)
TASKS = {
    "a": ("bird", LIKELY.key, 0.9, "fish"),
    "b": ("fish", LIKELY.key, 0.8, "mammal"),
    "c": ("mammal", LIKELY.key, 0.3, "bird"),  # below --min-score
    "d": ("bird", LIKELY.key, 0.95, "mammal"),  # a reviewer relabels it after the flag
    "e": ("fish", POSSIBLE.key, 0.9, "bird"),  # the other queue
    "f": (None, LIKELY.key, 0.7, "bird"),  # unannotated, with a second model's prediction
}
# Task fields that change on every write to a task's annotations, whoever makes it.
VOLATILE = ("updated_at", "updated_by")


def _choice(label: str) -> list[dict[str, Any]]:
    return [
        {"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": [label]}}
    ]


def _make_project(client: LSClient) -> dict[str, int]:
    config = build_label_config(["bird", "fish", "mammal"])
    project = client.projects.create(title=f"accept {uuid.uuid4().hex[:6]}", label_config=config)
    tasks = []
    for name, (given, queue, score, suggested) in TASKS.items():
        data = {
            "image": f"/data/local-files/?d=none/{name}.png",
            "name": name,
            "winnow_queues": [queue],
            "winnow_label_issue_score": score,
            "winnow_suggested_label": suggested,
        }
        annotations = [{"result": _choice(given), "ground_truth": False}] if given else []
        tasks.append({"data": data, "annotations": annotations})
    client.projects.import_tasks(id=project.id, request=tasks, commit_to_project=True)
    ids = {t.data["name"]: t.id for t in client.tasks.list(project=project.id)}
    time.sleep(1.1)  # the suggestion comes after the given labels, as in a sync
    predictions = [
        {"task": ids[n], "result": _choice(s), "model_version": PREDICTION_VERSION, "score": 1.0}
        for n, (_, _, _, s) in TASKS.items()
    ]
    predictions += [
        {"task": ids[n], "result": _choice("fish"), "model_version": "clip", "score": 0.5}
        for n in ("a", "f")
    ]
    client.projects.import_predictions(id=project.id, request=predictions)
    time.sleep(1.1)
    client.annotations.create(id=ids["d"], result=_choice("bird"))  # a reviewer's decision
    return {"project": project.id, **ids}


def _export(
    ls: LabelStudio, project: int, drop: tuple[str, ...] = VOLATILE
) -> dict[int, dict[str, Any]]:
    """The project's JSON export by task id, every field but ``drop``."""
    response = httpx.get(
        f"{ls.url}/api/projects/{project}/export",
        params={"exportType": "JSON", "download_all_tasks": "true"},
        headers=ls.auth_headers,
        timeout=60,
    )
    response.raise_for_status()
    return {t["id"]: {k: v for k, v in t.items() if k not in drop} for t in response.json()}


def _listing(ls: LabelStudio, project: int) -> dict[int, dict[str, Any]]:
    """The task listing with annotations and predictions in full, minus :data:`VOLATILE`
    and ``created_ago`` (rendered relative to the request's time)."""
    response = httpx.get(
        f"{ls.url}/api/tasks",
        params={"project": project, "fields": "all", "page_size": 1000, "resolve_uri": "false"},
        headers=ls.auth_headers,
        timeout=60,
    )
    response.raise_for_status()
    out = {}
    for task in response.json()["tasks"]:
        task = {k: v for k, v in task.items() if k not in VOLATILE}
        for key in ("annotations", "predictions"):
            task[key] = [{k: v for k, v in x.items() if k != "created_ago"} for x in task[key]]
        out[task["id"]] = task
    return out


def test_accept_then_undo_restores_the_project(tmp_path: Path, label_studio: LabelStudio) -> None:
    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    ids = _make_project(client)
    project = ids["project"]
    log = log_path(tmp_path)
    with SyncState(state_path(tmp_path)) as state:
        pull(client, project, state, page_size=100)
        before_raw = _export(label_studio, project)
        untouched = _export(label_studio, project, drop=())
        before = _listing(label_studio, project)

        dry = accept(
            client, state, project, queue="likely", log=log, reviewer="rev", min_score=0.5,
            dry_run=True,
        )  # fmt: skip
        assert sorted(dry.accepted) == sorted([ids["a"], ids["b"], ids["f"]])
        assert not log.exists()
        assert _export(label_studio, project, drop=()) == untouched  # not even updated_at

        report = accept(
            client, state, project, queue="likely", log=log, reviewer="rev", min_score=0.5
        )
        assert report.candidates == 4  # a, b, d, f: c is below the score, e in the other queue
        assert sorted(report.accepted) == sorted([ids["a"], ids["b"], ids["f"]])
        assert report.human == [ids["d"]]
        assert len(report.annotations) == 3

        after = _listing(label_studio, project)
        for name in ("a", "b", "f"):
            task = after[ids[name]]
            ours = [p for p in task["predictions"] if p["model_version"] == PREDICTION_VERSION]
            new = [
                a for a in task["annotations"] if a["id"] in {x["id"] for x in report.annotations}
            ]
            assert len(new) == 1, name
            assert new[0]["parent_prediction"] == ours[0]["id"]
            assert new[0]["result"][0]["value"]["choices"] == [TASKS[name][3]]
            assert new[0]["ground_truth"] is False
            old = before[ids[name]]["annotations"]  # the given label, untouched
            assert [a for a in task["annotations"] if a not in new] == old
        assert len(after[ids["f"]]["annotations"]) == 1  # the "clip" prediction was not used
        for name in ("c", "d", "e"):  # skipped tasks are exactly as before
            assert after[ids[name]] == before[ids[name]], name

        pending, record = batches(log)
        assert pending["kind"] == "pending" and pending["batch"] == report.batch
        assert record["kind"] == "accept" and record["batch"] == report.batch
        assert record["reviewer"] == "rev" and record["project"] == project
        assert sorted(record["task_ids"]) == sorted(report.accepted)
        assert [a["id"] for a in record["annotations"]] == [a["id"] for a in report.annotations]

        again = accept(
            client, state, project, queue="likely", log=log, reviewer="rev", min_score=0.5
        )
        assert again.accepted == [] and sorted(again.already) == sorted(report.accepted)
        assert again.batch is None and len(batches(log)) == 2

        undone = undo(client, report.batch, log=log, reviewer="rev")
        assert sorted(undone.deleted) == sorted(a["id"] for a in report.annotations)
        assert undone.edited == [] and undone.gone == []
        assert batches(log)[-1]["kind"] == "undo"
        assert json.dumps(_export(label_studio, project), sort_keys=True) == json.dumps(
            before_raw, sort_keys=True
        )
        assert _listing(label_studio, project) == before

        # a second batch, one annotation edited by a reviewer: undo keeps that one
        second = accept(
            client, state, project, queue="likely", log=log, reviewer="rev", min_score=0.5
        )
        assert len(second.annotations) == 3
        # the run "dies" after Label Studio made the annotations, before the batch line
        lines = log.read_text().splitlines()
        assert json.loads(lines[-1])["kind"] == "accept"
        log.write_text("\n".join(lines[:-1]) + "\n")
        third = accept(
            client, state, project, queue="likely", log=log, reviewer="rev", min_score=0.5
        )
        assert third.batch is None and sorted(third.already) == sorted(second.accepted)
        recovered = batches(log)[-1]
        assert recovered["kind"] == "accept" and recovered["batch"] == second.batch
        assert recovered["recovered"] is True
        assert recovered["annotations"] == second.annotations
        edited = second.annotations[0]["id"]
        time.sleep(1.1)
        client.annotations.update(id=edited, result=_choice("mammal"))
        partial = undo(client, second.batch, log=log, reviewer="rev")
        assert partial.edited == [edited]
        assert sorted(partial.deleted) == sorted(a["id"] for a in second.annotations[1:])
        client.annotations.get(id=edited)  # still there


def test_review_commands(
    tmp_path: Path, label_studio: LabelStudio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commands as a user runs them: dry run, accept, then undo by the printed batch id."""
    from typer.testing import CliRunner

    from winnow.cli.app import build_app

    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    ids = _make_project(client)
    project = ids["project"]
    data_dir = tmp_path / "data"
    with SyncState(state_path(data_dir)) as state:
        pull(client, project, state, page_size=100)
    before = _listing(label_studio, project)
    monkeypatch.setenv("WINNOW_DATA_DIR", str(data_dir))
    monkeypatch.setenv("WINNOW_LABEL_STUDIO__URL", label_studio.url)
    monkeypatch.setenv("WINNOW_LABEL_STUDIO__API_KEY", label_studio.api_key)
    app, runner = build_app(), CliRunner()
    base = ["review", "accept", "--project", str(project), "--min-score", "0.5"]

    dry = runner.invoke(app, [*base, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would accept 3" in dry.output and not log_path(data_dir).exists()

    done = runner.invoke(app, [*base, "--reviewer", "ana"])
    assert done.exit_code == 0, done.output
    (record,) = [b for b in batches(log_path(data_dir)) if b["kind"] == "accept"]
    assert record["reviewer"] == "ana" and f"winnow review undo {record['batch']}" in done.output

    bad = runner.invoke(app, ["review", "undo", "nosuchbatch"])
    assert bad.exit_code != 0
    undone = runner.invoke(app, ["review", "undo", record["batch"]])
    assert undone.exit_code == 0, undone.output
    assert "deleted 3 annotations" in undone.output
    assert _listing(label_studio, project) == before
