"""``winnow backend``, ``winnow predict`` and ``winnow rank``: the ML backend's commands.

``backend`` serves the Label Studio ML backend; ``predict --project ID`` pre-annotates a whole
project in chunks and ``rank --project ID`` scores unlabeled tasks by uncertainty (both
resumable). The work is imported inside each command, so ``winnow --help`` loads no model.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from winnow.cli.console import console, staged_progress_bar
from winnow.config import Settings, get_settings
from winnow.services.process import LOOPBACK

if TYPE_CHECKING:
    from ml_backend.predict import BatchReport
    from ml_backend.service import PredictionService


def backend(
    host: str = typer.Option(LOOPBACK, help="address to listen on"),
    port: int = typer.Option(9090, help="port to listen on"),
) -> None:
    """Run the Label Studio ML backend (CLIP or ImageNet zero-shot pre-annotation).

    Off loopback it needs basic auth (backend.basic_auth_user and the password)."""
    from ml_backend.auth import check_exposure

    settings = get_settings()
    check_exposure(settings, host)  # before loading anything: a clear one-line refusal
    from ml_backend.server import run

    logging.getLogger().setLevel(settings.log_level)
    console.print(
        f"Winnow ML backend on http://{host}:{port} "
        f"(model: {settings.embedding.kind}, store: {settings.store_path})"
    )
    run(settings, host=host, port=port)


def predict(
    project: int = typer.Option(..., "--project", help="Label Studio project id"),
    chunk_size: int = typer.Option(256, min=1, help="tasks per upload"),
) -> None:
    """Pre-annotate every task of a project without a prediction of the current model.

    Resumable: tasks that already have one are skipped. Sets the project's model_version
    so the Data Manager sorts by prediction score.
    """
    from ml_backend.auth import basic_auth
    from ml_backend.predict import predict_project
    from winnow.labelstudio.client import connect

    settings = get_settings()
    client = connect(settings.label_studio)
    with ExitStack() as stack:
        service = _service(settings, stack)
        with staged_progress_bar("Predicting") as start:
            report = predict_project(
                client,
                project,
                service,
                chunk_size=chunk_size,
                progress=start,
                auth=basic_auth(settings),
            )
    render_report(report)


def _service(settings: Settings, stack: ExitStack) -> PredictionService:
    from ml_backend.service import PredictionService
    from winnow.store import FeatureStore
    from winnow.zeroshot import make_predictor

    store = stack.enter_context(FeatureStore(settings.store_path))
    service = PredictionService(settings, make_predictor(settings), store)
    stack.callback(service.close)
    return service


def render_report(report: BatchReport) -> None:
    table = Table(title=f"Predictions ({report.version})", show_header=False)
    rows = [
        ("tasks in project", report.total),
        ("already predicted by this version", report.already),
        ("predicted now", report.predicted),
        ("left without a prediction", sum(report.failed.values())),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    if report.sync is not None:
        table.add_row("project model_version in sync", "yes" if report.sync.in_sync else "no")
    console.print(table)
    for task_id, error in report.examples:
        console.print(f"  task {task_id}: {error}", highlight=False)


def rank(
    project: int = typer.Option(..., "--project", help="Label Studio project id"),
    chunk_size: int | None = typer.Option(None, min=1, help="tasks per upload"),
) -> None:
    """Score every unlabeled task with the current model; most uncertain first in a View.

    Resumable per model version. Creates or updates the View "Active learning: most
    uncertain first" (unlabeled tasks, ascending score).
    """
    from ml_backend.auth import basic_auth
    from ml_backend.rank import Checkpoint, make_scorer, rank_project, sync_version
    from ml_backend.training.active_learning import ActiveLearning
    from winnow.labelstudio.client import connect

    settings = get_settings()
    client = connect(settings.label_studio)
    with ExitStack() as stack:
        service = _service(settings, stack)
        learning = ActiveLearning(settings, service, service.metrics, auth=basic_auth(settings))
        stack.callback(learning.close)
        plan = service.plan(client.projects.get(project).label_config)
        version = learning.version(project, plan)
        scorer = make_scorer(service, learning, project, plan)
        with staged_progress_bar(f"Ranking with {version}") as start:
            report = rank_project(
                client,
                project,
                scorer,
                version,
                Checkpoint(settings.data_dir / "rank", project),
                chunk_size=chunk_size or settings.training.rank_chunk,
                progress=start,
                sync=lambda v: sync_version(
                    client, project, v, plan, learning, basic_auth(settings)
                ),
            )
    console.print(
        f"{report.scored} tasks scored with {report.version} ({report.already} already, "
        f"{report.failed} without a prediction, {report.unlabeled} unlabeled); "
        f"View {report.view_id}; model_version in sync: "
        f"{'yes' if report.in_sync else 'no'}",
        highlight=False,
    )
