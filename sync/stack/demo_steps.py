"""The later demo steps: active learning on a fresh project, the export, the index, the
reports, and the API with its web UI.

Each step runs the installed ``winnow`` command in a subprocess, as a user would, so the
demo exercises the real CLI and this module imports no other adapter.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx

from sync.importing.job import ImportOptions, run_import
from sync.stack.demo import DemoStack, cli_env, run_cli
from winnow.errors import ServiceError
from winnow.labelstudio.client import connect
from winnow.labelstudio.label_config import build_label_config, find_label_control
from winnow.services.process import free_port, http_status, spawn, wait_until

LEARNING_TITLE = "Winnow demo: active learning"


def active_learning(stack: DemoStack, folder: Path, *, per_class: int) -> int:
    """Import ``folder`` unlabelled into a new project, annotate ``per_class`` tasks of each
    class through the API (the folder names play the annotator), wait until the backend
    trained on them (webhook), then rank: returns the project id."""
    ls = connect(stack.settings.label_studio)
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir())
    config = build_label_config(classes)
    project = ls.projects.create(title=LEARNING_TITLE, label_config=config)
    run_import(
        ImportOptions(source=str(folder), project=str(project.id), layout="flat", embed=True),
        settings=stack.settings,
    )
    control = find_label_control(config)
    picked: dict[str, int] = {c: 0 for c in classes}
    for task in ls.tasks.list(project=project.id, page_size=100):
        label = Path(str(task.data.get("winnow_source", ""))).parent.name
        if label in picked and picked[label] < per_class:
            ls.annotations.create(id=task.id, result=control.choices_result([label]))
            picked[label] += 1
    # Label Studio's webhooks trigger a run after every `training.retrain_every` annotations;
    # if one ran before the last class reached its minimum, ask once more, as the "Start
    # training" button does, so the demo never waits on a count that will not come.
    httpx.post(
        f"{stack.backend_url}/webhook",
        timeout=30,
        json={"action": "START_TRAINING", "project": {"id": project.id}},
    )
    _wait_for_model(stack.backend_url, project.id)
    if run_cli(stack, "rank", "--project", str(project.id)) != 0:
        raise ServiceError("`winnow rank` failed; see the output above")
    return project.id


def learning_view(stack: DemoStack, project: int) -> int | None:
    """The id of the View `winnow rank` made (found by its title's start)."""
    ls = connect(stack.settings.label_studio)
    for view in ls.views.list(project=project):
        if str((view.data or {}).get("title", "")).startswith("Active learning"):
            return view.id
    return None


def _wait_for_model(backend_url: str, project: int, timeout_s: float = 300) -> str:
    """Poll the backend's /health until a training run of ``project`` is decided; returns the
    version that serves it. A trained model replaces zero-shot only if it is not worse on the
    same held-out tasks, so zero-shot may rightly keep serving: the demo says which won."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        health = httpx.get(f"{backend_url}/health", timeout=10).json()
        entry = (health.get("projects") or {}).get(str(project)) or {}
        version = (health.get("models") or {}).get(str(project))
        if health.get("training") == "failed":
            raise ServiceError(f"training failed: {health.get('training_error')}")
        decided = entry.get("decisions") or entry.get("unsupported")
        trained = version and not version.startswith(("imagenet-", "clip-"))
        if version and (decided or trained) and health.get("training") != "training":
            for reason in entry.get("decisions") or []:
                print(f"  training: {reason}")
            print(f"  serving project {project}: {version} ({entry.get('model_class')})")
            return version
        time.sleep(2)
    raise ServiceError(f"no training run of project {project} decided after {timeout_s:.0f} s")


def start_api_and_ui(stack: DemoStack, project: int | None, workdir: Path) -> tuple[str, str]:
    """``winnow serve`` and ``winnow ui`` as processes of the stack; their URLs."""
    api_port, ui_port = free_port(), free_port()
    api_url, ui_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ui_port}"
    env = cli_env(stack.settings)
    scope = ["--project", str(project)] if project is not None else []
    serve = ["serve", *scope, "--port", str(api_port)]
    _start_cli(stack, serve, env, workdir / "api.log", f"{api_url}/readyz", 180, "the API")
    ui = ["ui", "--port", str(ui_port), "--api-url", api_url]
    _start_cli(stack, ui, env, workdir / "ui.log", f"{ui_url}/_stcore/health", 120, "the web UI")
    return api_url, ui_url


def _start_cli(
    stack: DemoStack,
    args: list[str],
    env: dict[str, str],
    log: Path,
    health_url: str,
    timeout_s: float,
    what: str,
) -> None:
    """Start ``winnow <args>`` as a process of the stack and wait until ``health_url`` is 200."""
    process = spawn([sys.executable, "-m", "winnow", *args], env=env, log_path=log)
    stack.extra.append(process)
    if not wait_until(
        lambda: http_status(health_url) == 200,
        timeout_s=timeout_s,
        alive=lambda: process.poll() is None,
    ):
        raise ServiceError(f"{what} did not become ready; see {log}")
