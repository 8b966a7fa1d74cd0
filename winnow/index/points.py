"""Turn a project frame into index points and bring an index in line with it.

Points are keyed by sha256, so tasks that hold the same image share one point: its payload
carries every task id (``task_ids``; ``task_id`` is the lowest), the union of their labels
and flags, and the first task's split and URL. ``sync_points`` only writes what changed and
deletes points whose image left the project, so re-running it is cheap and idempotent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from winnow.index.base import IndexPoint, SearchFilter, VectorIndex

BATCH = 1024


@dataclass
class SyncReport:
    """What one sync did. ``missing_vector``: content without an embedding (undecodable);
    ``no_image``: rows without a content hash (no URL, or the bytes could not be read)."""

    upserted: int = 0
    unchanged: int = 0
    deleted: int = 0
    missing_vector: int = 0
    no_image: int = 0

    @property
    def indexed(self) -> int:
        return self.upserted + self.unchanged


def _as_list(value: Any) -> list[Any]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [value] if isinstance(value, str) else list(value)


def _optional(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def frame_payloads(
    frame: pd.DataFrame, *, project: int | None = None, embedding: str | None = None
) -> dict[str, dict[str, Any]]:
    """One payload per distinct sha256 in a project frame (rows without sha256 are skipped).

    A folder frame has no tasks: its ``task_id`` is None and ``task_ids`` empty."""
    rows = frame[frame["sha256"].notna()].sort_values("task_id", na_position="last", kind="stable")
    payloads: dict[str, dict[str, Any]] = {}
    for row in rows.itertuples(index=False):
        labels = set(_as_list(getattr(row, "labels", None)))
        flags = set(_as_list(getattr(row, "flags", None)))
        tasks = [] if _optional(row.task_id) is None else [int(row.task_id)]
        current = payloads.get(row.sha256)
        if current is None:
            payloads[row.sha256] = {
                "sha256": row.sha256,
                "task_id": tasks[0] if tasks else None,
                "task_ids": tasks,
                "labels": sorted(labels),
                "split": _optional(getattr(row, "split", None)),
                "flags": sorted(flags),
                "url": _optional(getattr(row, "image", None)),
                "project": project,
                "embedding": embedding,
            }
            continue
        current["task_ids"].extend(tasks)
        current["labels"] = sorted(set(current["labels"]) | labels)
        current["flags"] = sorted(set(current["flags"]) | flags)
    for payload in payloads.values():
        payload["label"] = payload["labels"][0] if len(payload["labels"]) == 1 else None
    return payloads


def sync_points(
    index: VectorIndex,
    frame: pd.DataFrame,
    vectors: Mapping[str, np.ndarray],
    *,
    project: int | None = None,
    embedding: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> SyncReport:
    """Upsert new or changed images of ``frame``; delete this project's vanished points.

    ``vectors`` maps sha256 -> embedding; images without one are counted, not indexed.
    ``embedding`` (the model id) is stored so a model change rewrites every point.
    """
    report = SyncReport(no_image=int(frame["sha256"].isna().sum()))
    wanted = frame_payloads(frame, project=project, embedding=embedding)
    scope = SearchFilter(project=project) if project is not None else None
    # project None (a folder) owns only the points without a project
    owned = (p for p in index.points(scope) if p.payload.get("project") == project)
    stored = {p.sha256: p.payload for p in owned}
    todo: list[IndexPoint] = []
    for sha, payload in wanted.items():
        if sha not in vectors:
            report.missing_vector += 1
        elif stored.get(sha) == payload:
            report.unchanged += 1
        else:
            todo.append(IndexPoint(sha, np.asarray(vectors[sha], dtype=np.float32), payload))
    if progress and report.unchanged:
        progress(report.unchanged)
    for start in range(0, len(todo), BATCH):
        report.upserted += index.upsert(todo[start : start + BATCH])
        if progress:
            progress(len(todo[start : start + BATCH]))
    indexed = {sha for sha in wanted if sha in vectors}
    report.deleted = index.delete([sha for sha in stored if sha not in indexed])
    if report.upserted:
        index.optimize()
    return report
