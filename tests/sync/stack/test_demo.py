"""The demo end to end: Label Studio and the backend start, the data is imported with its
labels, every task gets a pre-annotation, the audit runs, and everything stops."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pandas as pd
import pytest
from label_studio_sdk import LabelStudio as LSClient
from typer.testing import CliRunner

from winnow.cli.app import build_app
from winnow.samples import TUXPAINT_ROOT, build_edge_cases

pytestmark = pytest.mark.integration


@pytest.fixture
def small_demo_set(tmp_path: Path) -> Path:
    root = tmp_path / "samples" / "demo"
    for folder, label in [("birds", "bird"), ("fish", "fish")]:
        (root / label).mkdir(parents=True)
        for path in sorted((TUXPAINT_ROOT / "animals" / folder).glob("*.png"))[:6]:
            shutil.copy(path, root / label / path.name)
    build_edge_cases(tmp_path / "edge")
    shutil.copy(tmp_path / "edge" / "truncated.jpg", root / "fish" / "truncated.jpg")
    return root


def test_demo_runs_the_whole_stack_and_stops_it(
    small_demo_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ls_venv: Path
) -> None:
    monkeypatch.setenv("WINNOW_DATA_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("WINNOW_LS_VENV", str(ls_venv))
    seen: dict = {}

    def look_while_running(stack) -> None:  # stands in for the user browsing until Ctrl-C
        client = LSClient(base_url=stack.label_studio.url, api_key=stack.label_studio.api_key)
        seen["tasks"] = list(client.tasks.list(project=1, fields="all"))
        seen["stack"] = stack
        view = int(stack.links["learning"].rsplit("tab=", 1)[1])
        seen["ranked"] = list(client.tasks.list(project=2, view=view, fields="all"))
        seen["api"] = httpx.get(stack.links["API"].replace("/docs", "/v1/stats")).json()
        seen["ui"] = httpx.get(stack.links["web UI"] + "/_stcore/health").text

    monkeypatch.setattr("sync.stack.demo.wait_for_interrupt", look_while_running)
    result = CliRunner().invoke(build_app(), ["demo", str(small_demo_set), "--wait"])
    assert result.exit_code == 0, result.output
    assert "admin@example.com" in result.output and "/projects/1" in result.output
    tasks = seen["tasks"]
    assert len(tasks) == 12  # the truncated file is skipped, with its reason
    assert all(t.total_annotations == 1 for t in tasks)
    for task in tasks:  # the backend's pre-annotation, plus the sync's suggestion if flagged
        versions = sorted(p.model_version for p in task.predictions)
        assert len(versions) == 1 or (len(versions) == 2 and "winnow-review" in versions)
    assert "Review: all flagged" in result.output
    ranked = seen["ranked"]  # active learning: unlabeled tasks, most uncertain first
    assert ranked and all(t.total_annotations == 0 for t in ranked)
    scores = [max(p.score for p in t.predictions) for t in ranked]
    assert scores == sorted(scores)
    assert all(
        p.model_version.startswith(("linear-", "fastai-")) for t in ranked for p in t.predictions
    )
    assert seen["api"]["points"] == 12 and seen["ui"] == "ok"
    store = tmp_path / "store"
    assert (store / "export" / "v1.0" / "DATASET_CARD.md").is_file()
    assert all((store / "reports" / f"{n}.html").stat().st_size > 0 for n in ("data", "model"))
    issues = pd.read_csv(tmp_path / "store" / "audit" / "issues.csv")
    assert (issues["issue_type"] == "unreadable").sum() == 1
    stack = seen["stack"]
    assert stack.backend.poll() is not None and not stack.label_studio.running
