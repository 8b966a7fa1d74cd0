"""Pull a project's tasks into the sync state, incrementally and page by page.

Label Studio bumps a task's ``updated_at`` whenever its data or any annotation changes, so a
pull asks only for tasks updated since the newest ``updated_at`` it saw before (minus a small
margin for writes landing in the same instant), using the Data Manager filter on the task
list endpoint: no export job, constant memory per page. Deleted tasks are found from a
listing of ids alone. The watermark moves only after every page is stored, so an
interrupted pull repeats its pages next time instead of skipping them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from label_studio_sdk import LabelStudio

from sync.review.state import SyncState, TaskRow
from winnow.errors import ConfigError, LabelStudioError
from winnow.labelstudio.calls import ls_call, refusal_status
from winnow.labelstudio.label_config import LabelControl, find_label_control
from winnow.progress import Advance

MARGIN = dt.timedelta(seconds=2)


@dataclass
class PullReport:
    fetched: int = 0  # tasks returned as changed since the last pull
    deleted: int = 0
    total: int = 0  # tasks the project holds now
    full: bool = False  # first pull of this project


def label_control(label_config: str) -> LabelControl:
    """The project's label control: Choices, else RectangleLabels (detection)."""
    try:
        return find_label_control(label_config)
    except ConfigError:  # not a classification config: try detection
        return find_label_control(label_config, task="detection")


def pull(
    ls: LabelStudio,
    project: int,
    state: SyncState,
    *,
    page_size: int,
    advance: Advance | None = None,
) -> PullReport:
    """Bring the state's copy of ``project`` up to date with Label Studio."""
    info = state.project_info(project)
    config = ls_call(f"read project {project}", ls.projects.get, id=project).label_config
    state.update_project(project, label_config=config)
    report = PullReport(full=info["watermark"] is None)
    live = {t["id"] for t in _pages(ls, project, page_size, include="id")}
    gone = state.task_ids(project) - live
    state.delete_tasks(project, gone)
    report.deleted, report.total = len(gone), len(live)
    query = None if report.full else _since(info["watermark"])
    newest = info["watermark"]
    image_key = _image_key(config)
    for page in _page_batches(ls, project, page_size, query=query):
        rows = [_row(t, image_key) for t in page]
        state.put_tasks(project, rows)
        newest = max([newest or "", *(r.updated_at for r in rows)])
        report.fetched += len(rows)
        if advance:
            advance(len(rows))
    state.update_project(
        project, watermark=newest or None, last_pull_at=dt.datetime.now(dt.UTC).timestamp()
    )
    return report


def _image_key(config: str) -> str | None:
    try:
        return label_control(config).image_key
    except ConfigError:  # a config without an image: nothing to audit
        return None


def _since(watermark: str) -> str:
    when = dt.datetime.fromisoformat(watermark.replace("Z", "+00:00")) - MARGIN
    item = {
        "filter": "filter:tasks:updated_at",
        "operator": "greater",
        "type": "Datetime",
        "value": when.isoformat().replace("+00:00", "Z"),
    }
    return json.dumps({"filters": {"conjunction": "and", "items": [item]}})


def _row(task: dict[str, Any], image_key: str | None) -> TaskRow:
    data = task.get("data") or {}
    image = data.get(image_key) if image_key else None
    return TaskRow(
        task_id=int(task["id"]),
        updated_at=str(task["updated_at"]),
        data=data,
        meta=task.get("meta") or {},
        annotations=list(task.get("annotations") or []),
        predictions=list(task.get("predictions") or []),
        image=image if isinstance(image, str) else None,
        sha256=data.get("winnow_sha256") if isinstance(data.get("winnow_sha256"), str) else None,
    )


def _pages(
    ls: LabelStudio, project: int, page_size: int, **params: Any
) -> Iterator[dict[str, Any]]:
    for page in _page_batches(ls, project, page_size, **params):
        yield from page


def _page_batches(
    ls: LabelStudio, project: int, page_size: int, **params: Any
) -> Iterator[list[dict[str, Any]]]:
    """Pages of tasks as JSON dicts; ends on a short page or Label Studio's 'Invalid page'."""
    if "include" not in params:
        params["fields"] = "all"
    params = {k: v for k, v in params.items() if v is not None}
    number = 1
    while True:
        try:
            pager = ls_call(
                f"list tasks of project {project} (page {number})",
                ls.tasks.list,
                project=project,
                page=number,
                page_size=page_size,
                resolve_uri=False,
                **params,
            )
        except LabelStudioError as exc:
            if refusal_status(exc) == 404:
                return
            raise
        items = [t.model_dump(mode="json") for t in pager.items]
        if items:
            yield items
        if len(items) < page_size:
            return
        number += 1
