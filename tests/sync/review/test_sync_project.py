"""`winnow sync` against a real Label Studio: a real labelled set (Tux Paint animal photos)
with planted problems lands in the right review queues with the right fields, human
annotations stay byte-identical, reviewer decisions clear flags for good, and a sync killed
mid-push then re-run ends in the state of one clean run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from label_studio_sdk import LabelStudio as LSClient
from PIL import Image, ImageFilter
from pydantic import SecretStr
from skimage import data

from sync.project_frame import COLUMNS, project_frame
from sync.review.job import run_sync
from sync.review.queues import ALL_FLAGGED, PREDICTION_VERSION
from sync.review.state import SyncState, state_path
from winnow.config import ImageIOSettings, LabelStudioSettings, Settings, get_settings
from winnow.labelstudio.label_config import build_label_config
from winnow.services import LabelStudio

pytestmark = pytest.mark.integration

STAMPS = Path("/usr/share/tuxpaint/stamps/animals")
CLASSES = {"birds": "bird", "fish": "fish", "insects": "insect", "mammals": "mammal"}
PER_CLASS = 12
WRONG = {"bird_01.png": "fish", "fish_02.png": "mammal", "mammal_03.png": "bird"}
TRUE = {"bird_01.png": "bird", "fish_02.png": "fish", "mammal_03.png": "mammal"}
TEST_SPLIT = {"bird_09.png", "fish_09.png", "insect_09.png", "mammal_09.png", "leak_copy.jpg"}


def _build_set(folder: Path) -> dict[str, str]:
    """Real stamps flattened on grey (file -> true label), plus the planted problems: two
    JPEG copies (one of them in the other split), a blurred photo, a corrupt file and a
    photo with a face."""
    labels: dict[str, str] = {}
    for sub, label in CLASSES.items():
        paths = sorted(
            p
            for p in (STAMPS / sub).rglob("*.png")
            if "_mirror" not in p.stem and "_thumb" not in p.stem
        )[:PER_CLASS]
        for i, path in enumerate(paths):
            stamp = Image.open(path).convert("RGBA")
            stamp.thumbnail((256, 256))
            canvas = Image.new("RGB", stamp.size, (128, 128, 128))
            canvas.paste(stamp, mask=stamp.split()[3])
            name = f"{label}_{i:02d}.png"
            if name == "bird_05.png":
                canvas = canvas.filter(ImageFilter.GaussianBlur(6))
                name = "blurred.png"
            canvas.save(folder / name)
            labels[name] = label
    Image.open(folder / "insect_05.png").save(folder / "dup_copy.jpg", quality=80)
    Image.open(folder / "mammal_07.png").save(folder / "leak_copy.jpg", quality=80)
    labels |= {"dup_copy.jpg": "insect", "leak_copy.jpg": "mammal"}
    (folder / "corrupt.jpg").write_bytes((folder / "dup_copy.jpg").read_bytes()[:300])
    labels["corrupt.jpg"] = "mammal"
    Image.fromarray(data.astronaut()).resize((256, 256)).save(folder / "person.jpg", quality=90)
    labels["person.jpg"] = "mammal"  # a real face: personal data
    return labels


def _make_project(ls: LabelStudio, folder: Path, files_root: Path, labels: dict[str, str]) -> int:
    client = LSClient(base_url=ls.url, api_key=ls.api_key)
    config = build_label_config(sorted(set(CLASSES.values())))
    project = client.projects.create(title=f"sync {uuid.uuid4().hex[:6]}", label_config=config)
    client.import_storage.local.create(project=project.id, path=str(folder), use_blob_urls=True)
    tasks = []
    for name, label in sorted(labels.items()):
        given = WRONG.get(name, label)
        rel = folder.relative_to(files_root).as_posix()
        result = [
            {
                "from_name": "label",
                "to_name": "image",
                "type": "choices",
                "value": {"choices": [given]},
            }
        ]
        split = "test" if name in TEST_SPLIT else "train"
        tasks.append(
            {
                "data": {
                    "image": f"/data/local-files/?d={rel}/{name}",
                    "split": split,
                    "name": name,
                },
                "annotations": [{"result": result, "ground_truth": False}],
            }
        )
    client.projects.import_tasks(id=project.id, request=tasks, commit_to_project=True)
    return project.id


def _settings(tmp: Path, ls: LabelStudio) -> Settings:
    return get_settings(
        data_dir=tmp / "winnow-data",
        label_studio=LabelStudioSettings(url=ls.url, api_key=SecretStr(ls.api_key)),
        io=ImageIOSettings(allowed_hosts=["127.0.0.1"], http_retries=1, http_timeout_s=10),
        features={"workers": 0},
    )


def _tasks(ls: LabelStudio, project: int, view: int | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {
        "project": project,
        "fields": "all",
        "page_size": 1000,
        "resolve_uri": "false",
    }
    if view is not None:
        params["view"] = view
    response = httpx.get(f"{ls.url}/api/tasks", params=params, headers=ls.auth_headers, timeout=30)
    response.raise_for_status()
    return response.json()["tasks"]


def _annotations(ls: LabelStudio, project: int) -> dict[int, str]:
    """Every stored annotation field as JSON (``created_ago`` is rendered per request)."""
    return {
        t["id"]: json.dumps(
            [{k: v for k, v in a.items() if k != "created_ago"} for a in t["annotations"]],
            sort_keys=True,
        )
        for t in _tasks(ls, project)
    }


def _queue(ls: LabelStudio, project: int, views: dict[str, str], title: str) -> list[dict]:
    view_id = int(views[title].rsplit("tab=", 1)[1])
    return _tasks(ls, project, view=view_id)


def _label_queues(ls: LabelStudio, project: int, views: dict[str, str]) -> list[dict]:
    """Both label-issue queues: which one a task lands in depends on the estimated precision."""
    return [
        *_queue(ls, project, views, "Review: label issues (likely)"),
        *_queue(ls, project, views, "Review: label issues (possible)"),
    ]


def _names(tasks: list[dict]) -> set[str]:
    return {t["data"]["name"] for t in tasks}


def _ours(task: dict) -> list[dict]:
    return [p for p in task["predictions"] if p["model_version"] == PREDICTION_VERSION]


def _end_state(ls: LabelStudio, project: int) -> dict[str, Any]:
    """What a sync leaves in Label Studio, keyed by file name (comparable across projects)."""
    tasks = {}
    listed = _tasks(ls, project)
    names = {str(t["id"]): t["data"]["name"] for t in listed}
    for t in listed:
        fields = {k: v for k, v in t["data"].items() if k.startswith("winnow_")}
        if "winnow_evidence" in fields:  # the panel links tasks by id: compare by name
            fields["winnow_evidence"] = re.sub(
                r"/projects/\d+/data\?task=(\d+)|task (\d+)",
                lambda m: names[m.group(1) or m.group(2)],
                fields["winnow_evidence"],
            )
            # its fingerprint hashes task ids, and it says when it was built
            fields["winnow_evidence"] = re.sub(
                r' data-winnow-fingerprint="[0-9a-f]+"|Built [0-9: -]+UTC\.',
                "",
                fields["winnow_evidence"],
            )
        preds = sorted(json.dumps(p["result"][0]["value"]) for p in _ours(t))
        meta = [
            re.sub(r"task (\d+)", lambda m: names[m.group(1)], line)
            for line in t["meta"].get("winnow_review", [])
        ]
        tasks[t["data"]["name"]] = (fields, meta, preds)
    client = LSClient(base_url=ls.url, api_key=ls.api_key)
    views = sorted(
        json.dumps({k: v.data[k] for k in ("title", "filters", "ordering")}, sort_keys=True)
        for v in client.views.list(project=project)
    )
    return {"tasks": tasks, "views": views}


@pytest.fixture
def animals(ls_files_root: Path) -> tuple[Path, dict[str, str]]:
    if not STAMPS.is_dir():
        pytest.skip("Debian tuxpaint-stamps-default is not installed")
    folder = ls_files_root / f"animals-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    return folder, _build_set(folder)


def test_sync_queues_decisions_and_kill_mid_push(
    tmp_path: Path,
    label_studio: LabelStudio,
    ls_files_root: Path,
    animals: tuple[Path, dict[str, str]],
) -> None:
    folder, labels = animals
    settings = _settings(tmp_path, label_studio)
    project = _make_project(label_studio, folder, ls_files_root, labels)
    before = _annotations(label_studio, project)

    untouched = _end_state(label_studio, project)
    dry = run_sync(settings, project, dry_run=True)  # says what it would write, writes nothing
    assert dry.pushed.dry_run and dry.pushed.tasks_updated > 0
    assert _end_state(label_studio, project) == untouched
    assert dry.meter.phases["push"].calls == 0
    summary = run_sync(settings, project)
    views = summary.views
    assert _annotations(label_studio, project) == before  # human annotations untouched
    first_state = _end_state(label_studio, project)
    _check_queues(label_studio, project, views)
    assert len(views) == 8 and summary.pushed.predictions_created >= len(WRONG)
    assert (summary.pushed.tasks_updated, summary.pushed.predictions_created) == (
        dry.pushed.tasks_updated,
        dry.pushed.predictions_created,
    )
    _check_project_frame(settings, project, labels)

    again = run_sync(settings, project)  # nothing changed: nothing re-read, audited or written
    assert (again.pulled.fetched, again.pulled.total) == (0, len(labels))
    assert not again.audited and again.pushed.writes == 0
    assert again.meter.phases["push"].calls == 0
    assert _end_state(label_studio, project) == first_state

    # before any dismissal: dismissals hold per content and label in every project
    _kill_mid_push_then_rerun(label_studio, folder, ls_files_root, labels, settings, first_state)

    changed = _ids(label_studio, project, {"bird_01.png", "blurred.png"})
    _relabel_and_keep(label_studio, project, views, settings)
    after = _annotations(label_studio, project)
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in before.items() if k not in changed
    }


def _check_queues(ls: LabelStudio, project: int, views: dict[str, str]) -> None:
    label_issues = {t["data"]["name"]: t for t in _label_queues(ls, project, views)}
    for name, true in TRUE.items():
        task = label_issues[name]
        assert task["data"]["winnow_suggested_label"] == true
        assert 0 < task["data"]["winnow_label_issue_score"] <= 1
        assert {"label_issue", "possible_label_issue"} & set(task["data"]["winnow_flags"])
        assert [p["result"][0]["value"]["choices"] for p in _ours(task)] == [[true]]
    # a queue of up to 30 tasks is its own spot check, in task order
    likely = _queue(ls, project, views, "Review: label issues (likely)")
    spot = _queue(ls, project, views, "Review: label issues (likely, spot check)")
    assert _names(spot) == _names(likely) and [t["id"] for t in spot] == sorted(
        t["id"] for t in spot
    )
    assert all("label_spot_check" in t["data"]["winnow_flags"] for t in spot)
    dups = _queue(ls, project, views, "Review: near duplicates")
    dup = [t for t in dups if t["data"]["name"] in {"dup_copy.jpg", "insect_05.png"}]
    assert len(dup) == 1 and dup[0]["data"]["winnow_dup_group"].startswith("dup-")
    leaks = _names(_queue(ls, project, views, "Review: split leakage"))
    assert {"leak_copy.jpg", "mammal_07.png"} <= leaks
    quality = {t["data"]["name"]: t for t in _queue(ls, project, views, "Review: image quality")}
    assert "blurry" in quality["blurred.png"]["data"]["winnow_flags"]
    assert quality["corrupt.jpg"]["data"]["winnow_flags"] == ["unreadable"]
    pii = {t["data"]["name"]: t for t in _queue(ls, project, views, "Review: PII")}
    assert "person.jpg" in pii and "pii" in pii["person.jpg"]["data"]["winnow_flags"]
    assert any("unreadable" in line for line in quality["corrupt.jpg"]["meta"]["winnow_review"])
    flagged = _queue(ls, project, views, ALL_FLAGGED)
    severities = [t["data"]["winnow_severity"] for t in flagged]
    assert severities == sorted(severities, reverse=True)  # the View sorts by severity
    assert set(TRUE) | {"blurred.png", "corrupt.jpg", "leak_copy.jpg"} <= _names(flagged)
    everyone = _names(_tasks(ls, project))
    assert _names(flagged) != everyone  # clean images are not flagged


def _check_project_frame(settings: Settings, project: int, labels: dict[str, str]) -> None:
    """The contract other jobs read: one row per task, current labels, open flags, sizes."""
    frame = project_frame(settings, project).set_index("task_id")
    assert len(frame) == len(labels) and frame.columns.tolist() == COLUMNS[1:]
    by_name = {
        Path(image).name: row for image, row in zip(frame["image"], frame.itertuples(), strict=True)
    }
    assert by_name["bird_01.png"].labels == ["fish"] and {
        "label_issue",
        "possible_label_issue",
    } & set(by_name["bird_01.png"].flags)
    assert by_name["corrupt.jpg"].width is None or pd.isna(by_name["corrupt.jpg"].width)
    assert (by_name["bird_00.png"].split, by_name["leak_copy.jpg"].split) == ("train", "test")
    assert all(w > 0 for n, r in by_name.items() if n != "corrupt.jpg" for w in (r.width, r.height))


def _ids(ls: LabelStudio, project: int, names: set[str]) -> set[int]:
    return {t["id"] for t in _tasks(ls, project) if t["data"]["name"] in names}


def _relabel_and_keep(
    ls: LabelStudio, project: int, views: dict[str, str], settings: Settings
) -> None:
    """A reviewer fixes one label and keeps the blurred photo; the next syncs honour both."""
    client = LSClient(base_url=ls.url, api_key=ls.api_key)
    tasks = {t["data"]["name"]: t for t in _tasks(ls, project)}
    fix = tasks["bird_01.png"]["annotations"][0]
    client.annotations.update(
        id=fix["id"],
        result=[
            {
                "from_name": "label",
                "to_name": "image",
                "type": "choices",
                "value": {"choices": ["bird"]},
            }
        ],
    )
    keep = tasks["blurred.png"]["annotations"][0]
    client.annotations.update(
        id=keep["id"],
        result=[
            *keep["result"],
            {
                "from_name": "winnow_review",
                "to_name": "image",
                "type": "choices",
                "value": {"choices": ["keep"]},
            },
        ],
    )
    summary = run_sync(settings, project)
    assert (summary.decisions.kept, summary.decisions.relabelled) == (1, 1)
    assert summary.pulled.fetched == 2 and summary.audited  # only the two edited tasks
    # the fixed label is a verdict on its label-issue queue; keeping a blurred photo is not
    # (in the likely queue, the fixed task was also in its spot check)
    checks = summary.label_reviews
    assert set(checks) in ({"possible queue"}, {"likely queue", "likely spot check"}), checks
    for check in checks.values():
        assert (check["confirmed"], check["reviewed"]) == (1, 1)
        assert check["verdict"] == "unchecked"  # 1 verdict of the 10 a check needs
    titles = [v.data["title"] for v in client.views.list(project=project)]
    ends = [t for t in titles if t.endswith("reviewed 1 of 1 right (0.21-1.00)")]
    assert len(ends) == len(checks), titles
    # one label edit of 53 (under sync.label_refit_share) is rescored on the first sync's
    # fit, no refit; what content decides is reused
    assert summary.audit_work.startswith(
        "label issues rescored on the last fit (1 changed labels, 1 since the fit, "
    )
    assert summary.audit_work.endswith("duplicates, quality, outliers, PII reused")
    assert 0 < summary.peak_mb < 4096
    for _ in range(2):  # and not raised again by the sync after
        issues = _label_queues(ls, project, views)
        assert "bird_01.png" not in _names(issues) and "mammal_03.png" in _names(issues)
        quality = _names(_queue(ls, project, views, "Review: image quality"))
        assert "blurred.png" not in quality and "corrupt.jpg" in quality
        fixed = next(t for t in _tasks(ls, project) if t["data"]["name"] == "bird_01.png")
        assert _ours(fixed) == [] and "winnow_suggested_label" not in fixed["data"]
        summary = run_sync(settings, project)
        assert summary.pushed.writes == 0
        assert summary.pulled.fetched == 0 and not summary.audited
    with SyncState(state_path(settings.data_dir)) as state:
        log = state.audit_log(project)
    assert [row["action"] for row in log] == ["relabel", "keep"]
    assert all(row["who"] and row["at"] for row in log)
    assert "fish -> bird" in log[0]["what"] and "blurry" in log[1]["what"]


def _kill_mid_push_then_rerun(
    ls: LabelStudio,
    folder: Path,
    files_root: Path,
    labels: dict[str, str],
    settings: Settings,
    clean: dict[str, Any],
) -> None:
    """The same data in a second project; a sync subprocess (paced) is SIGKILLed after a few
    task writes; a re-run must end where one clean run ended, with nothing duplicated."""
    project = _make_project(ls, folder, files_root, labels)
    env = {
        **os.environ,
        "WINNOW_DATA_DIR": str(settings.data_dir),
        "WINNOW_LABEL_STUDIO__URL": ls.url,
        "WINNOW_LABEL_STUDIO__API_KEY": ls.api_key,
        "WINNOW_IO__ALLOWED_HOSTS": '["127.0.0.1"]',
        "WINNOW_FEATURES__WORKERS": "0",
        "WINNOW_SYNC__PACE_S": "0.4",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "winnow", "sync", "--project", str(project)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    written = 0
    while time.monotonic() < deadline and proc.poll() is None:
        written = sum("winnow_severity" in t["data"] for t in _tasks(ls, project))
        if written >= 3:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 3 <= written < len(_flagged_names(clean)), proc.stderr.read().decode()[-2000:]
    run_sync(settings, project)
    assert _differences(_end_state(ls, project), clean) == {}
    assert all(len(_ours(t)) <= 1 for t in _tasks(ls, project))


def _differences(got: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    """Tasks (and the View list) whose end state differs, each as (got, want)."""
    out = {
        name: (got["tasks"].get(name), value)
        for name, value in want["tasks"].items()
        if got["tasks"].get(name) != value
    }
    if got["views"] != want["views"]:
        out["views"] = (got["views"], want["views"])
    return out


def _flagged_names(state: dict[str, Any]) -> list[str]:
    return [name for name, (fields, _, _) in state["tasks"].items() if "winnow_severity" in fields]
