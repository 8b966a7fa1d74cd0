"""``winnow predict``: pre-annotate a whole project outside Label Studio's request timeout.

Label Studio's "Retrieve predictions" gives up after about 100 s, too short for a big
project's first pass. This runs the same :class:`~ml_backend.service.PredictionService`
in-process, uploads predictions chunk by chunk (each chunk is committed in Label Studio),
and skips tasks that already have a prediction of the current model version, so an
interrupted run resumes where it stopped. It ends by syncing the project's
``model_version`` so the Data Manager sorts by score.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ml_backend.service import PredictionService
from ml_backend.versions import SyncOutcome, sync_model_version
from winnow.progress import Advance


@dataclass
class BatchReport:
    version: str
    total: int = 0
    already: int = 0  # had a prediction of this version before the run
    predicted: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # kind -> tasks
    examples: list[tuple[int | None, str]] = field(default_factory=list)  # a few failures
    sync: SyncOutcome | None = None


def pending_tasks(client: Any, project: int, version: str, report: BatchReport) -> list[dict]:
    """Tasks (id and data) without a prediction of ``version``; counts the rest."""
    pending = []
    for task in client.tasks.list(project=project, fields="all", page_size=500):
        report.total += 1
        versions = {p.model_version for p in (task.predictions or [])}
        if version in versions:
            report.already += 1
        else:
            pending.append({"id": task.id, "data": task.data})
    return pending


def predict_project(
    client: Any,
    project: int,
    service: PredictionService,
    *,
    chunk_size: int = 256,
    progress: Callable[[int], Advance] | None = None,
    auth: tuple[str, str] | None = None,
) -> BatchReport:
    """Predict and upload every pending task of ``project``; ``progress(total)`` returns an
    ``advance(n)`` callback (a progress bar), called once the pending count is known.
    ``auth``: the backend's basic auth, needed to rename a connected backend."""
    plan = service.plan(client.projects.get(project).label_config)
    report = BatchReport(plan.version)
    pending = pending_tasks(client, project, plan.version, report)
    advance = progress(len(pending)) if progress else None
    for chunk in _chunks(pending, chunk_size):
        outcomes = service.predict(chunk, plan, label_studio=None)
        uploads = [
            {"task": o.task_id, "result": o.result, "score": o.score, "model_version": plan.version}
            for o in outcomes
            if o.result is not None
        ]
        if uploads:
            client.projects.import_predictions(id=project, request=uploads)
        report.predicted += len(uploads)
        for o in outcomes:
            if o.error is not None:
                report.failed[o.error.split(":", 1)[0]] += 1
                if len(report.examples) < 10:
                    report.examples.append((o.task_id, o.error))
        if advance:
            advance(len(chunk))
    has_predictions = report.predicted + report.already > 0
    report.sync = sync_model_version(
        client, project, plan.version, auth=auth, has_predictions=has_predictions
    )
    return report


def _chunks(items: list[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(items), max(size, 1)):
        yield items[start : start + size]
