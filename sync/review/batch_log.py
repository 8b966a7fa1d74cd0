"""The audit log of bulk corrections: one JSON line per accepted batch, pending batch or undo.

``winnow review accept`` writes it (:mod:`sync.corrections.accept`); a sync reads it to tell
an annotation a batch made (a machine suggestion accepted in bulk) from a reviewer's verdict.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from winnow.errors import WinnowError


class BatchError(WinnowError):
    """An unknown batch id, or an audit log line that cannot be read."""


def log_path(data_dir: Path) -> Path:
    return Path(data_dir) / "review" / "batches.jsonl"


def batches(log: Path) -> list[dict[str, Any]]:
    """Every line of the audit log, oldest first."""
    if not log.exists():
        return []
    out = []
    for n, line in enumerate(log.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise BatchError(f"{log} line {n} is not JSON: {exc}") from exc
    return out


def batch_annotations(log: Path, project: int) -> frozenset[int]:
    """Ids of every annotation an accepted batch of ``project`` created (undone ones too: an
    id is never reused)."""
    return frozenset(
        int(a["id"])
        for line in batches(log)
        if line.get("kind") == "accept" and line.get("project") == project
        for a in line.get("annotations") or []
    )


def append(log: Path, record: dict[str, Any]) -> None:
    """One line, fsynced: a batch in Label Studio is never missing from the log after return."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
