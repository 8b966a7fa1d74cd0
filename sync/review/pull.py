"""Pull a project's tasks into the sync state, incrementally and page by page.

Label Studio bumps a task's ``updated_at`` whenever its data, an annotation or a prediction
changes through the API. A pull first lists every task's id and ``updated_at`` alone (a light
listing, thousands of tasks a page), then re-reads in full only the tasks whose ``updated_at``
differs from the one stored: new tasks, tasks humans changed, and tasks a killed run wrote
without recording. The sync stores the ``updated_at`` its own writes produced (Label Studio
returns the task from each write), so a sync's own writes are not re-read by the next one.
Tasks missing from the listing were deleted. Each page is stored as it arrives, so an
interrupted pull repeats only what it had not stored.

Tasks are re-read by id (a selection of ``page_size`` ids a request), on the first pull too:
Label Studio counts a listing's whole queryset on every page and skips the offset, so page N of
an offset listing costs more as N grows (at 100,000 tasks page 900 took 2.4x page 1; a
selection of the same size costs what page 1 does).

Before listing, one request asks for the newest ``updated_at`` and the task count: when both
equal what the state holds, nothing changed and the pull ends there (at 10,000 tasks the
listing alone took about 5 s of Label Studio's time). When something changed, the listing is
filtered to tasks updated since the last pull's newest timestamp (the watermark); if the
count then adds up (the known tasks plus the new ones), nothing was deleted and the rest of
the project need not be listed. At 100,000 tasks the full listing is 20 pages and about 50 s;
after 100 edits the filtered one is the edits, plus the last sync's own writes when no no-op
pull has run since (a no-op pull moves the watermark past them). A count that
does not add up, or a Label Studio that refuses the filter, falls back to the full listing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from label_studio_sdk import LabelStudio

from sync.review.state import SyncState, TaskRow, iter_chunks
from winnow.errors import ConfigError, LabelStudioError
from winnow.labelstudio.calls import ls_call, refusal_status
from winnow.labelstudio.label_config import LabelControl, find_label_control
from winnow.progress import Advance

LISTING_PAGE_SIZE = 5000  # ids and timestamps only: about 60 bytes a task


@dataclass
class PullReport:
    fetched: int = 0  # tasks re-read in full because they changed since the last pull
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
    config = ls_call(f"read project {project}", ls.projects.get, id=project).label_config
    state.update_project(project, label_config=config)
    known = state.task_versions(project)
    report = PullReport(full=not known)
    pending = state.pending_predictions(project)
    live = None
    if known and not pending:
        newest, total = _newest_and_count(ls, project)
        if total == len(known) and newest == max(known.values()):
            # Every task up to ``newest`` is as stored, the sync's own last writes included:
            # moving the watermark there keeps them out of the next filtered listing.
            state.update_project(project, watermark=newest)
            report.total = len(known)
            return report
        watermark = state.project_info(project)["watermark"]
        if total is not None and watermark:
            live = _live_if_nothing_deleted(ls, project, known, watermark, total)
    if live is None:
        live = {int(t["id"]): str(t["updated_at"]) for t in _listing(ls, project)}
    gone = set(known) - set(live)
    state.delete_tasks(project, gone)
    report.deleted, report.total = len(gone), len(live)
    changed = sorted(t for t, at in live.items() if known.get(t) != at or t in pending)
    image_key = image_key_of(config)
    for page in fetch_batches(ls, project, changed, page_size=page_size):
        rows = [task_row(t, image_key) for t in page]
        state.put_tasks(project, rows)
        report.fetched += len(rows)
        if advance:
            advance(len(rows))
    state.clear_pending_predictions(project, pending)
    state.update_project(
        project,
        watermark=max(live.values(), default=None),
        last_pull_at=dt.datetime.now(dt.UTC).timestamp(),
    )
    return report


def _newest_and_count(ls: LabelStudio, project: int) -> tuple[str | None, int | None]:
    """The newest ``updated_at`` and the task count, from one small request (None: an answer
    we cannot read). A new task or any change raises the newest timestamp (the sync's own
    writes are in the state), a deletion lowers the count, so both equal to the state's means
    a listing would find nothing to re-read."""
    pager = ls_call(
        f"read the newest task of project {project}",
        ls.tasks.list,
        project=project,
        page=1,
        page_size=1,
        fields="task_only",
        include="id,updated_at",
        query=json.dumps({"ordering": ["-tasks:updated_at"]}),
        resolve_uri=False,
    )
    newest = [str(t.model_dump(mode="json")["updated_at"]) for t in pager.items]
    total = getattr(pager.response, "total", None) if pager.response is not None else None
    return (newest[0] if len(newest) == 1 else None), (None if total is None else int(total))


def _live_if_nothing_deleted(
    ls: LabelStudio, project: int, known: dict[int, str], watermark: str, total: int
) -> dict[int, str] | None:
    """Every task's ``updated_at`` from a listing of the tasks updated at or after
    ``watermark`` alone, when the count shows nothing was deleted; else None."""
    since = {"conjunction": "and", "items": [_updated_since(watermark)]}
    try:
        changed = {int(t["id"]): str(t["updated_at"]) for t in _listing(ls, project, since)}
    except LabelStudioError:  # a server that refuses the filter: list everything
        return None
    new = changed.keys() - known.keys()
    if total != len(known) + len(new):
        return None  # something was deleted (or the listing missed a task): list everything
    return {**known, **changed}


def _updated_since(watermark: str) -> dict[str, str]:
    """A Data Manager filter item: tasks updated at or after ``watermark`` (equal times are
    listed, and those not changed are not re-read)."""
    return {
        "filter": "filter:tasks:updated_at",
        "operator": "greater_or_equal",
        "type": "Datetime",
        "value": watermark,
    }


def fetch_batches(
    ls: LabelStudio, project: int, task_ids: list[int], *, page_size: int
) -> Iterator[list[dict[str, Any]]]:
    """The given tasks in full (annotations and predictions), ``page_size`` a request."""
    for chunk in iter_chunks(task_ids, page_size):
        query = json.dumps({"selectedItems": {"all": False, "included": chunk}})
        pager = ls_call(
            f"read {len(chunk)} tasks of project {project}",
            ls.tasks.list,
            project=project,
            page=1,
            page_size=len(chunk),
            fields="all",
            query=query,
            resolve_uri=False,
        )
        yield [t.model_dump(mode="json") for t in pager.items]


def image_key_of(config: str) -> str | None:
    """The data field that holds the image, None for a config without one."""
    try:
        return label_control(config).image_key
    except ConfigError:  # a config without an image: nothing to audit
        return None


def task_row(task: dict[str, Any], image_key: str | None) -> TaskRow:
    """A task as Label Studio returns it (listing or write), as the state stores it."""
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


def _listing(
    ls: LabelStudio, project: int, filters: dict[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Every task's (or every ``filters``-matching task's) id and ``updated_at``, page by page;
    ends on a short page or Label Studio's 'Invalid page'."""
    number = 1
    query = {} if filters is None else {"query": json.dumps({"filters": filters})}
    while True:
        try:
            pager = ls_call(
                f"list tasks of project {project} (page {number})",
                ls.tasks.list,
                project=project,
                page=number,
                page_size=LISTING_PAGE_SIZE,
                fields="task_only",
                include="id,updated_at",
                resolve_uri=False,
                **query,
            )
        except LabelStudioError as exc:
            if refusal_status(exc) == 404:
                return
            raise
        items = [t.model_dump(mode="json") for t in pager.items]
        yield from items
        if len(items) < LISTING_PAGE_SIZE:
            return
        number += 1
