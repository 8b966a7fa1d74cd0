"""Label Studio task payloads for imported images, and their bulk upload.

Labels that come with the source (class folders, a URL list's label column) become
*annotations*, not predictions: they are somebody's labelling, and the audits judge them like
any other. They are not ground truth either (``ground_truth=False``). The task says where the
label came from (``winnow_source_label``, ``meta.winnow.labels_from``), so a later job can
tell imported labels from labels made in Label Studio.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from label_studio_sdk import LabelStudio

from sync.importing.provenance import Candidate
from winnow.errors import LabelStudioError
from winnow.labelstudio.calls import ls_call
from winnow.labelstudio.label_config import LabelControl

BATCH_SIZE = 500


def build_task(
    candidate: Candidate,
    *,
    image_ref: str,
    sha256: str,
    control: LabelControl,
    imported_at: str,
    flags: Sequence[str] = (),
) -> dict[str, Any]:
    """One task: the image, its split, identity, provenance, flags, and the imported label."""
    p = candidate.provenance
    data: dict[str, Any] = {control.image_key: image_ref}
    if candidate.split:
        data["split"] = candidate.split
    data["winnow_sha256"] = sha256
    data |= p.task_fields()
    if candidate.labels:
        data["winnow_source_label"] = "|".join(candidate.labels)
    all_flags = list(dict.fromkeys([*p.flags, *flags]))
    if all_flags:
        data["winnow_flags"] = all_flags
    for key in control.shown_fields:  # e.g. the evidence panel: empty until a sync fills it
        data.setdefault(key, "")
    annotate = bool(candidate.labels) and control.tag == "Choices"
    meta = {
        "winnow": {
            "imported_from": p.kind,
            "imported_at": imported_at,
            "labels_from": p.kind if annotate else None,
        }
    }
    task: dict[str, Any] = {"data": data, "meta": meta}
    if annotate:
        result = control.choices_result(candidate.labels)
        task["annotations"] = [{"result": result, "ground_truth": False}]
    return task


def push_tasks(
    ls: LabelStudio,
    project_id: int,
    tasks: Sequence[dict[str, Any]],
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
) -> list[int | None]:
    """Import ``tasks`` in batches; returns the new task ids in order (None if unknown)."""
    ids: list[int | None] = []
    for start in range(0, len(tasks), batch_size):
        batch = list(tasks[start : start + batch_size])
        response = ls_call(
            f"import {len(batch)} tasks into project {project_id}",
            ls.projects.import_tasks,
            id=project_id,
            request=batch,
            return_task_ids=True,
            commit_to_project=True,
        )
        got = list(getattr(response, "task_ids", None) or [])
        count = getattr(response, "task_count", None)
        if count is not None and count != len(batch):
            raise LabelStudioError(
                f"Label Studio created {count} of {len(batch)} tasks in project {project_id}"
            )
        ids += got if len(got) == len(batch) else [None] * len(batch)
        if progress:
            progress(len(batch))
    return ids
