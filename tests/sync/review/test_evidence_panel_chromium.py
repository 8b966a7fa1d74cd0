"""A reviewer sees why a task was flagged: `winnow sync` with the review control against a real
Label Studio, then each flagged task's labelling view rendered in headless Chromium (logged in
as the admin) must show the evidence panel: the suggested label with its probability and the
labelled neighbours for a label issue, the partner task for a duplicate, the value against
the project's range for a quality flag. The Views still filter on the queues, and the Data
Manager's queue column reads as text."""

from __future__ import annotations

import importlib.util
import re
import shutil
import uuid
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from winnow.services import LabelStudio

pytestmark = pytest.mark.integration

TOOL = Path(__file__).resolve().parents[3] / "docs" / "tools" / "evidence_screenshot.py"


def _tool() -> ModuleType:
    """The scenario shared with the docs screenshot (docs/tools is no package)."""
    spec = importlib.util.spec_from_file_location("evidence_screenshot", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tasks(ls: LabelStudio, project: int, view: int | None = None) -> dict[str, dict]:
    params = {"project": project, "fields": "all", "page_size": 1000, "resolve_uri": "false"}
    if view is not None:
        params["view"] = view
    answer = httpx.get(f"{ls.url}/api/tasks", params=params, headers=ls.auth_headers, timeout=30)
    answer.raise_for_status()
    return {t["data"]["name"]: t for t in answer.json()["tasks"]}


def test_reviewer_sees_the_evidence_panel_in_label_studio(
    tmp_path: Path, label_studio: LabelStudio, ls_files_root: Path
) -> None:
    tool = _tool()
    if not tool.STAMPS.is_dir() or shutil.which("chromium") is None:
        pytest.skip("needs Debian tuxpaint-stamps-default and chromium")
    folder = ls_files_root / f"evidence-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    labels = tool.build_images(folder)
    ids = tool.make_project(label_studio, folder, labels)
    project = ids["project"]
    settings = tool.sync_settings(tmp_path / "winnow", label_studio)
    summary = tool.sync_with_panel(settings, label_studio, project)

    tasks = _tasks(label_studio, project)
    wrong = tasks["bird_01.png"]["data"]
    assert wrong["winnow_suggested_label"] == "bird"
    assert re.fullmatch(r"label issues \((likely|possible)\)", wrong["winnow_queue_names"])
    copies = [tasks[n]["data"] for n in ("insect_03.png", "insect_copy.jpg")]
    dup = next(d for d in copies if "winnow_dup_group" in d)
    assert "near duplicates" in dup["winnow_queue_names"].split(", ")
    blurred = tasks["blurred.png"]["data"]
    assert "image quality" in blurred["winnow_queue_names"].split(", ")
    assert all(
        t["data"].get("winnow_evidence", "") == "" for t in tasks.values() if not _flagged(t)
    )

    # the Views still filter on the queues
    in_view = {
        title: set(_tasks(label_studio, project, int(url.rsplit("tab=", 1)[1])))
        for title, url in summary.views.items()
    }
    assert "bird_01.png" in in_view[f"Review: {wrong['winnow_queue_names']}"]
    assert dup["name"] in in_view["Review: near duplicates"]
    assert "blurred.png" in in_view["Review: image quality"]
    assert "bird_01.png" not in in_view["Review: near duplicates"]

    partner = ids["insect_copy.jpg" if dup["name"] == "insect_03.png" else "insect_03.png"]
    needles = {
        ids["bird_01.png"]: "suggested label",
        ids[dup["name"]]: "duplicate",
        ids["blurred.png"]: "percentile in this project",
    }
    texts = tool.render_tasks(label_studio, project, needles)

    label_panel = texts[ids["bird_01.png"]]
    assert "given label\tfish" in label_panel
    assert re.search(r"suggested label\tbird \(p = 0\.\d\d\)", label_panel)
    neighbours = re.findall(r"^(bird|fish|insect|mammal) · 0\.\d\d$", label_panel, re.M)
    assert len(neighbours) == 5 and "bird" in neighbours
    assert f"task {partner} · insect" in texts[ids[dup["name"]]]
    quality = texts[ids["blurred.png"]]
    assert re.search(r"percentile in this project\t\d+", quality) and "project range" in quality


def _flagged(task: dict) -> bool:
    return bool(task["data"].get("winnow_queues"))


def test_label_studio_requires_the_panel_field_once_the_panel_is_in_the_config(
    label_studio: LabelStudio,
) -> None:
    """Why the sync keeps ``winnow_evidence`` (empty) on tasks it no longer flags, and why the
    docs tell importers to send it: Label Studio refuses task data without a shown field."""
    from label_studio_sdk import LabelStudio as LSClient

    from sync.review.review_control import ensure_review_control
    from winnow.labelstudio.label_config import build_label_config

    client = LSClient(base_url=label_studio.url, api_key=label_studio.api_key)
    project = client.projects.create(title="panel field", label_config=build_label_config(["a"]))
    url = f"{label_studio.url}/api/projects/{project.id}/import"
    post = lambda tasks: httpx.post(url, json=tasks, headers=label_studio.auth_headers, timeout=30)  # noqa: E731
    assert post([{"image": "/data/upload/1/a.png"}]).status_code == 201
    assert ensure_review_control(client, project.id, to_name="image")
    refused = post([{"image": "/data/upload/1/b.png"}])
    assert refused.status_code == 400 and "winnow_evidence" in refused.text
    assert post([{"image": "/data/upload/1/c.png", "winnow_evidence": ""}]).status_code == 201
