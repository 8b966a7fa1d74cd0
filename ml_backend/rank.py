"""``winnow rank``: re-score every unlabeled task with the current model, most uncertain first.

Label Studio Community sorts by prediction score but cannot compute uncertainty itself, and
its "Retrieve predictions" times out on big projects. This runs the backend's own scoring
in-process over the project's unlabeled tasks, in chunks: each chunk's predictions are
uploaded (one per task and model version: tasks that already have one of this version are
skipped), and the last chunk done is remembered per model version in
``<data_dir>/rank/<project>.json``, so an interrupted run resumes. It ends by keeping the
project's ``model_version`` equal to the scoring model's and by creating or updating the
View :data:`VIEW_TITLE`: unlabeled tasks, lowest score (most informative) first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml_backend.service import Plan, PredictionService, TaskOutcome
from ml_backend.versions import sync_model_version
from winnow.atomic import write_atomic
from winnow.progress import Advance

VIEW_TITLE = "Active learning: most uncertain first"
Scorer = Callable[[list[dict[str, Any]]], tuple[str, list[TaskOutcome]]]


@dataclass
class RankReport:
    version: str
    unlabeled: int = 0
    already: int = 0  # had a prediction of this version (or sat in a chunk done before)
    scored: int = 0
    failed: int = 0
    view_id: int | None = None
    in_sync: bool = False


def view_data() -> dict[str, Any]:
    """Unlabeled tasks, ascending prediction score (low = most informative)."""
    item = {
        "filter": "filter:tasks:total_annotations",
        "operator": "equal",
        "type": "Number",
        "value": 0,
    }
    return {
        "title": VIEW_TITLE,
        "ordering": ["tasks:predictions_score"],
        "filters": {"conjunction": "and", "items": [item]},
    }


def ensure_view(client: Any, project: int) -> int:
    """Create the View, or update the first one with its title if it differs; its id."""
    wanted = view_data()
    found = sorted(
        (
            v
            for v in client.views.list(project=project)
            if (v.data or {}).get("title") == VIEW_TITLE
        ),
        key=lambda v: v.id,
    )
    if not found:
        return int(client.views.create(project=project, data=wanted).id)
    view = found[0]
    if any((view.data or {}).get(key) != value for key, value in wanted.items()):
        client.views.update(str(view.id), project=project, data=wanted)
    return int(view.id)


class Checkpoint:
    """The last task id scored per (project, model version); tasks are taken in id order."""

    def __init__(self, folder: Path, project: int) -> None:
        self.path = Path(folder) / f"{project}.json"

    def last_done(self, version: str) -> int:
        try:
            return int(json.loads(self.path.read_text()).get(version, -1))
        except (OSError, ValueError):
            return -1

    def mark(self, version: str, task_id: int) -> None:
        done = {version: task_id}  # older versions are never resumed
        write_atomic(self.path, json.dumps(done))


def rank_project(
    client: Any,
    project: int,
    score: Scorer,
    version: str,
    checkpoint: Checkpoint,
    *,
    chunk_size: int = 256,
    progress: Callable[[int], Advance] | None = None,
    sync: Callable[[str], bool] | None = None,
) -> RankReport:
    """Score and upload every pending unlabeled task, then sync the version and the View.

    ``score(tasks) -> (version, outcomes)``; ``version`` is what it will return (to skip
    done tasks); ``sync(version) -> in_sync`` keeps Label Studio's model_version equal.
    """
    report = RankReport(version)
    start = checkpoint.last_done(version)
    pending = []
    for task in sorted(
        client.tasks.list(project=project, fields="all", page_size=500), key=lambda t: t.id
    ):
        if task.annotations:
            continue
        report.unlabeled += 1
        if task.id <= start or version in {p.model_version for p in (task.predictions or [])}:
            report.already += 1
        else:
            pending.append({"id": task.id, "data": task.data})
    advance = progress(len(pending)) if progress else None
    for chunk in _chunks(pending, chunk_size):
        used, outcomes = score(chunk)
        uploads = [
            {"task": o.task_id, "result": o.result, "score": o.score, "model_version": used}
            for o in outcomes
            if o.result is not None
        ]
        if uploads:
            client.projects.import_predictions(id=project, request=uploads)
        report.scored += len(uploads)
        report.failed += len(outcomes) - len(uploads)
        checkpoint.mark(used, int(chunk[-1]["id"]))
        if advance:
            advance(len(chunk))
    report.in_sync = sync(version) if sync else False
    report.view_id = ensure_view(client, project)
    return report


def make_scorer(service: PredictionService, learning: Any, project: int, plan: Plan) -> Scorer:
    """Score with the trained model when it serves ``project``, else zero-shot."""

    def score(tasks: list[dict[str, Any]]) -> tuple[str, list[TaskOutcome]]:
        trained = learning.predict(project, plan, tasks, label_studio=None) if learning else None
        return trained or (plan.version, service.predict(tasks, plan, label_studio=None))

    return score


def sync_version(
    client: Any, project: int, version: str, plan: Plan, learning: Any, auth: tuple[str, str] | None
) -> bool:
    """Move our backend's title (if connected) and the project's model_version along."""
    if learning is not None:
        learning.sync_backends(project, version, also={plan.version})
    outcome = sync_model_version(client, project, version, auth=auth, has_predictions=True)
    return outcome.in_sync


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), max(size, 1)):
        yield items[start : start + size]
