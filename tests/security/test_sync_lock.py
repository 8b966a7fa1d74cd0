"""Finding 10 (sync): two syncs of one project at the same time, against a real Label Studio.

The attack: while ``winnow sync`` works on a project, a second ``winnow sync`` of the same
project starts (a real process). Before the fix both pulled, audited and pushed, interleaving
their writes to Label Studio and to the sync state. Now the second is refused at once with a
clear message; the first finishes normally; the refresh that an export does first waits for
the running sync instead of running beside it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from label_studio_sdk import LabelStudio as LSClient
from pydantic import SecretStr

from sync.review.job import pull_project, run_sync
from tests.sync.export.conftest import write_crops
from winnow.config import ImageIOSettings, LabelStudioSettings, Settings, get_settings
from winnow.labelstudio.label_config import build_label_config
from winnow.locks import LockBusyError
from winnow.services import LabelStudio

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _project(ls: LabelStudio, files_root: Path) -> int:
    """A small labelled project over real photo crops served as Label Studio local files."""
    folder = files_root / f"sync-lock-{uuid.uuid4().hex[:6]}"
    write_crops(folder, per_class=2)
    client = LSClient(base_url=ls.url, api_key=ls.api_key)
    labels = sorted(p.name for p in folder.iterdir())
    project = client.projects.create(title=folder.name, label_config=build_label_config(labels))
    client.import_storage.local.create(project=project.id, path=str(folder), use_blob_urls=True)
    tasks = [
        {
            "data": {"image": f"/data/local-files/?d={path.relative_to(files_root).as_posix()}"},
            "annotations": [
                {
                    "result": [
                        {
                            "from_name": "label",
                            "to_name": "image",
                            "type": "choices",
                            "value": {"choices": [path.parent.name]},
                        }
                    ]
                }
            ],
        }
        for path in sorted(folder.rglob("*.jpg"))
    ]
    client.projects.import_tasks(id=project.id, request=tasks, commit_to_project=True)
    return project.id


def _settings(tmp_path: Path, ls: LabelStudio) -> Settings:
    return get_settings(
        data_dir=tmp_path / "data",
        label_studio=LabelStudioSettings(url=ls.url, api_key=SecretStr(ls.api_key)),
        io=ImageIOSettings(allowed_hosts=["127.0.0.1"], http_retries=1),
        features={"workers": 0},
    )


class Paused:
    """A progress factory that holds a sync at its first step until ``release``."""

    def __init__(self) -> None:
        self.started, self.released = threading.Event(), threading.Event()

    @contextmanager
    def __call__(self, description: str, total: int | None) -> Iterator:
        if description == "pull tasks" and not self.started.is_set():
            self.started.set()
            assert self.released.wait(120), "the first sync was never released"
        yield lambda n=1: None


def _cli_sync(project: int, settings: Settings, ls: LabelStudio) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("WINNOW_")}
    environ |= {
        "WINNOW_DATA_DIR": str(settings.data_dir),
        "WINNOW_LABEL_STUDIO__URL": ls.url,
        "WINNOW_LABEL_STUDIO__API_KEY": ls.api_key,
        "WINNOW_IO__ALLOWED_HOSTS": '["127.0.0.1"]',
        "WINNOW_FEATURES__WORKERS": "0",
        "COLUMNS": "500",  # one line per message
    }
    return subprocess.run(
        [sys.executable, "-m", "winnow", "sync", "--project", str(project), "--no-embed"],
        capture_output=True,
        text=True,
        env=environ,
        cwd=REPO,
        timeout=300,
    )


def test_second_sync_of_a_project_is_refused_while_the_first_runs(
    tmp_path: Path, label_studio: LabelStudio, ls_files_root: Path
) -> None:
    project = _project(label_studio, ls_files_root)
    settings = _settings(tmp_path, label_studio)
    paused = Paused()
    pool = ThreadPoolExecutor(max_workers=2)
    first = pool.submit(run_sync, settings, project, embed=False, progress=paused)
    try:
        assert paused.started.wait(120), "the first sync did not start"
        second = _cli_sync(project, settings, label_studio)
        output = second.stdout + second.stderr
        assert second.returncode == 1, output
        assert f"a sync of project {project} is already running" in output, output
        assert "Traceback" not in output
        with pytest.raises(LockBusyError, match="already running"):
            run_sync(settings, project, embed=False)  # a second thread alike
        refresh = pool.submit(pull_project, settings, project)  # an export's refresh waits
        assert not refresh.done()
        with pytest.raises(TimeoutError):
            refresh.result(timeout=3)
    finally:
        paused.released.set()
    summary = first.result(timeout=300)
    assert summary.pulled.total == 8
    assert refresh.result(timeout=300).total == 8  # ran once the sync was done
    pool.shutdown()
    again = _cli_sync(project, settings, label_studio)  # the lock went with the first run
    assert again.returncode == 0, again.stdout + again.stderr
