"""When the audit can be skipped: a fingerprint of everything the audit reads.

The audit reads each task's content hash, image, annotations and data (minus the fields a
sync writes itself), the reviewers' dismissals, the settings and the embedding model. When
that fingerprint equals the one stored with the last findings, those findings stand: the
sync reuses them, with the label-issue estimate and View notes stored beside them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
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


def last_audit(state: SyncState, project: int) -> AuditRecord | None:
    raw = state.get(f"audit:{project}")
    if raw is None:
        return None
    value = json.loads(raw)
    return AuditRecord(value["key"], value["estimate"], value["notes"])


def remember_audit(state: SyncState, project: int, record: AuditRecord) -> None:
    """Store after the findings are stored, so a key never stands for findings not kept."""
    value = {"key": record.key, "estimate": record.estimate, "notes": record.notes}
    state.put(f"audit:{project}", json.dumps(value))


def _dump(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode()
