"""The end-to-end demo on embedded defaults: a real Label Studio on SQLite, the ML backend,
an import of the sample data with its folder labels, pre-annotations for every task, and the
audit of the same images (all features come from the store the import filled).

The backend and ``winnow predict`` run as subprocesses of the installed CLI, so this job uses
them exactly as a user would and imports no other adapter.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from analysis.audit import AuditResult
from sync.audit.folder import audit_folder, write_outputs
from sync.importing.job import ImportOptions, run_import
from sync.importing.summary import ImportSummary
from winnow.config import Settings, child_env
from winnow.errors import ServiceError
from winnow.progress import ProgressFactory, no_progress
from winnow.services import LabelStudio
from winnow.services.label_studio import installed_version
from winnow.services.process import free_port, http_status, spawn, stop_process, wait_until

PROJECT_TITLE = "Winnow demo"


@dataclass
class DemoStack:
    label_studio: LabelStudio
    backend: subprocess.Popen
    backend_url: str
    settings: Settings  # pointing at this Label Studio and backend
    extra: list[subprocess.Popen] = field(default_factory=list)  # API, UI
    links: dict[str, str] = field(default_factory=dict)  # what to open, once it runs

    def stop(self) -> None:
        for proc in reversed(self.extra):
            stop_process(proc)
        stop_process(self.backend)
        self.label_studio.stop()


def start_stack(settings: Settings, *, ls_venv: Path, files_root: Path, workdir: Path) -> DemoStack:
    """Label Studio from a migrated template (first run migrates once), then the backend."""
    cache = Path.home() / ".cache" / "winnow" / f"ls-template-{installed_version(ls_venv)}"
    template = LabelStudio.migrated_template(cache, venv=ls_venv)
    ls = LabelStudio(
        workdir / "label-studio", venv=ls_venv, files_root=files_root, template=template
    ).start()
    label_studio = settings.label_studio.model_copy(
        update={"url": ls.url, "api_key": SecretStr(ls.api_key), "files_root": files_root.resolve()}
    )
    port = free_port()
    backend_url = f"http://127.0.0.1:{port}"
    settings = settings.model_copy(
        update={"label_studio": label_studio.model_copy(update={"ml_backend_url": backend_url})}
    )
    proc = spawn(
        [sys.executable, "-m", "winnow", "backend", "--host", "127.0.0.1", "--port", str(port)],
        env=cli_env(settings),
        log_path=workdir / "backend.log",
    )
    if not wait_until(
        lambda: http_status(f"{backend_url}/health") == 200,
        timeout_s=120,
        alive=lambda: proc.poll() is None,
    ):
        stop_process(proc)
        ls.stop()
        raise ServiceError(f"the ML backend did not start; see {workdir / 'backend.log'}")
    return DemoStack(ls, proc, backend_url, settings)


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment a subprocess needs to see this stack (secrets only by environment)."""
    ls = settings.label_studio
    return child_env(
        drop=("WINNOW_LABEL_STUDIO__",),
        WINNOW_LABEL_STUDIO__URL=ls.url,
        WINNOW_DATA_DIR=str(settings.data_dir.resolve()),
        WINNOW_LABEL_STUDIO__API_KEY=ls.api_key.get_secret_value(),
    )


def import_and_predict(stack: DemoStack, folder: Path) -> tuple[ImportSummary, int]:
    """Import ``folder`` with its labels, then pre-annotate every task; returns the summary
    and the exit code of ``winnow predict``."""
    summary = run_import(
        ImportOptions(source=str(folder), project=PROJECT_TITLE, embed=True),
        settings=stack.settings,
    )
    return summary, run_cli(stack, "predict", "--project", str(summary.project_id))


def run_cli(stack: DemoStack, *args: str) -> int:
    """``winnow <args>`` against this stack; its output goes to the terminal."""
    command = [sys.executable, "-m", "winnow", *args]
    return subprocess.run(command, env=cli_env(stack.settings), check=False).returncode


def audit_demo(
    folder: Path, settings: Settings, out: Path, progress: ProgressFactory = no_progress
) -> AuditResult:
    _, _, result = audit_folder(folder, settings, progress=progress)
    write_outputs(result, out)
    return result


def wait_for_interrupt(stack: DemoStack) -> None:
    """Keep ``stack`` serving until Ctrl-C (the caller stops it)."""
    try:
        while True:
            time.sleep(5)
            if stack.backend.poll() is not None:
                return
    except KeyboardInterrupt:
        pass
