"""One row per Label Studio task, as every later job (export, index, report, serve) sees a
project: image, content hash, current human labels, split, open findings, provenance.

Built from the sync state; with ``pull`` the state is first brought up to date (incremental)
and every image's content is resolved through the feature store.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from winnow.config import Settings

COLUMNS = [
    "task_id",
    "image",
    "sha256",
    "labels",
    "split",
    "flags",
    "width",
    "height",
    "source",
    "licence",
    "collected_at",
    "updated_at",
]


def project_frame(settings: Settings, project_id: int, *, pull: bool = True) -> pd.DataFrame:
    """The project as a frame (columns :data:`COLUMNS`, plus ``boxes`` for detection)."""
    from sync.review.pull import label_control
    from sync.review.state import SyncState, state_path

    if pull:
        from sync.review.job import pull_project

        pull_project(settings, project_id)
    with SyncState(state_path(settings.data_dir)) as state:
        tasks = state.tasks(project_id)
        config = state.project_info(project_id)["label_config"]
        open_flags: dict[int, list[str]] = {}
        for f in state.findings(project_id):
            open_flags.setdefault(f.task_id, []).append(f.issue_type)
    control = label_control(config) if config else None
    sizes = _sizes(settings, {t.sha256 for t in tasks if t.sha256})
    split_field = settings.sync.split_field
    rows = [_row(t, control, open_flags.get(t.task_id, []), sizes, split_field) for t in tasks]
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "boxes"])
    if control is None or control.tag != "RectangleLabels":
        frame = frame.drop(columns="boxes")
    return frame


def labels_are_sets(settings: Settings, project_id: int) -> bool | None:
    """Whether the project's labeling config makes labels sets (``<Choices
    choice="multiple">``), from the sync state: the config decides, not how many labels the
    tasks happen to carry. None before the project's first pull."""
    from sync.review.pull import label_control
    from sync.review.state import SyncState, state_path

    with SyncState(state_path(settings.data_dir)) as state:
        config = state.project_info(project_id)["label_config"]
    if not config:
        return None
    control = label_control(config)
    return control.tag == "Choices" and control.multiple


def _sizes(settings: Settings, shas: set[str]) -> dict[str, tuple[Any, Any]]:
    from winnow.store import FeatureStore

    if not shas or not settings.store_path.exists():
        return {}
    with FeatureStore(settings.store_path, readonly=True) as store:
        images = store.images_frame()
    images = images[images["sha256"].isin(shas)]
    return {r.sha256: (r.width, r.height) for r in images.itertuples()}


def _row(
    task: Any, control: Any, findings: list[str], sizes: dict, split_field: str
) -> dict[str, Any]:
    from sync.review.queues import is_managed
    from sync.review.taskinfo import boxes_of, labels_of

    data = task.data
    split_value = data.get(split_field)
    other = [f for f in data.get("winnow_flags") or [] if not is_managed(f)]
    width, height = sizes.get(task.sha256, (None, None))
    labels = labels_of(task, control) if control else []
    return {
        "task_id": int(task.task_id),
        "image": task.image,
        "sha256": task.sha256,
        "labels": labels,
        "split": split_value if isinstance(split_value, str) else None,
        "flags": sorted({*findings, *other}),
        "width": width,
        "height": height,
        "source": data.get("winnow_source"),
        "licence": data.get("winnow_licence"),
        "collected_at": data.get("winnow_date") or data.get("winnow_retrieved_at"),
        "updated_at": task.updated_at,
        "boxes": boxes_of(task, control) if control else [],
    }
