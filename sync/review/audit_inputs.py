"""When the audit can be skipped, whole or in part: fingerprints of what the audit reads.

The audit reads each task's content hash, image, annotations and data (minus the fields a
sync writes itself), the reviewers' dismissals, the settings and the embedding model. When
that fingerprint equals the one stored with the last findings, those findings stand: the
sync reuses them, with the label-issue estimate and View notes stored beside them.

When it differs, the audit is split in two parts with their own fingerprints, so a few label
edits do not re-run what only content decides:

- ``content``: duplicates, split leaks, quality, outliers, unreadable files and PII. They
  read each task's content hash, image, split and read error, never its labels.
- ``labels``: the label-issue model (refitted on the cached embeddings). It reads the
  content part's inputs and each task's current label.

Each part's raw findings (before dismissals) are stored with its fingerprint and the per-task
inputs it saw, so the summary can say how many tasks changed what.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sync.review.queues import FIELDS
from sync.review.state import SyncState, TaskRow

# Settings that change how a sync talks to Label Studio, not what the audit finds.
_TRANSPORT = {"write_concurrency", "pace_s", "retries", "every", "page_size"}


@dataclass(frozen=True)
class AuditRecord:
    """What the last audit left beside its findings."""

    key: str
    estimate: dict | None  # the label-issue estimate as a dict, for the summary
    notes: dict[str, str]  # queue key -> note after the View's title
    kappa: float | None = None  # annotator agreement, from the same annotations
    ontology: list[str] = field(default_factory=list)  # class names that look like one


def audit_key(
    tasks: list[TaskRow],
    *,
    dismissed: set[tuple[str, str, str]],
    settings: Any,
    model_id: str | None,
    label_config: str | None,
) -> str:
    """A sha256 over the audit's inputs; equal keys mean the audit would find the same."""
    digest = hashlib.sha256()
    sync = settings.sync.model_dump(mode="json", exclude=_TRANSPORT)
    head = settings.model_dump(mode="json", exclude={"sync", "label_studio"})
    for part in (head, sync, sorted(dismissed), model_id, label_config):
        digest.update(_dump(part))
    for task in tasks:
        data = {k: v for k, v in task.data.items() if k not in FIELDS}
        annotations = [{k: v for k, v in a.items() if k != "created_ago"} for a in task.annotations]
        digest.update(_dump([task.task_id, task.sha256, task.image, data, annotations]))
    return digest.hexdigest()


@dataclass(frozen=True)
class AuditPart:
    """One part's raw findings (``records``: ``analysis.findings.ISSUE_COLUMNS`` dicts) as of
    the inputs fingerprinted by ``key``; ``inputs``: task id -> what the part read of it."""

    key: str
    inputs: dict[str, str]
    records: list[dict]
    estimate: dict | None = None
    notes: dict[str, str] | None = None


def part_inputs(table: Any, tasks: list[TaskRow], part: str) -> dict[str, str]:
    """Task id (as text) -> a short digest of what ``part`` reads of that task."""
    if part == "labels":
        return {
            str(t): str(label) for t, label in zip(table["task_id"], table["label"], strict=True)
        }
    image = {t.task_id: t.image for t in tasks}
    columns = zip(
        table["task_id"], table["sha256"], table["split"], table["error_kind"], strict=True
    )
    return {
        str(t): _dump([sha, image.get(t), split, err]).decode() for t, sha, split, err in columns
    }


def part_key(
    inputs: dict[str, str], *, settings: Any, model_id: str | None, under: str = ""
) -> str:
    """A sha256 over a part's per-task inputs, the settings and the model (``under``: the
    fingerprint of the part this one builds on)."""
    digest = hashlib.sha256()
    sync = settings.sync.model_dump(mode="json", exclude=_TRANSPORT)
    head = settings.model_dump(mode="json", exclude={"sync", "label_studio"})
    for part in (head, sync, model_id, under):
        digest.update(_dump(part))
    digest.update(_dump(sorted(inputs.items())))
    return digest.hexdigest()


def changed(before: AuditPart | None, inputs: dict[str, str]) -> int:
    """How many tasks a part reads differently than last time (all of them without a record)."""
    if before is None:
        return len(inputs)
    old = before.inputs
    return sum(old.get(t) != v for t, v in inputs.items()) + len(old.keys() - inputs.keys())


def last_part(state: SyncState, project: int, part: str) -> AuditPart | None:
    value = json.loads(state.get(f"audit_part:{project}:{part}") or "null")
    return None if value is None else AuditPart(**value)


def remember_part(state: SyncState, project: int, part: str, value: AuditPart) -> None:
    """Store a part's raw findings; keyed by its inputs, so a kill before the findings are
    stored leaves only an entry the next run computes again identically."""
    state.put(f"audit_part:{project}:{part}", json.dumps(value.__dict__, default=_plain))


def last_audit(state: SyncState, project: int) -> AuditRecord | None:
    raw = state.get(f"audit:{project}")
    if raw is None:
        return None
    value = json.loads(raw)
    return AuditRecord(
        value["key"],
        value["estimate"],
        value["notes"],
        value.get("kappa"),
        value.get("ontology", []),
    )


def remember_audit(state: SyncState, project: int, record: AuditRecord) -> None:
    """Store after the findings are stored, so a key never stands for findings not kept."""
    value = {
        "key": record.key,
        "estimate": record.estimate,
        "notes": record.notes,
        "kappa": record.kappa,
        "ontology": record.ontology,
    }
    state.put(f"audit:{project}", json.dumps(value))


def _plain(value: Any) -> Any:
    """numpy scalars and NaN in stored findings, as JSON."""
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and value != value else value


def _dump(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()
