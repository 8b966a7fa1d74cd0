"""When a task's evidence panel is rewritten: only when what the reviewer acts on changed.

A panel also shows context that moves with edits elsewhere in the project: the labels of its
nearest neighbours and duplicate copies, the other flagged copies, out-of-sample
probabilities. Label Studio has no bulk update of task data, so every rewritten panel is one
PATCH: at 10,000 tasks, 100 label edits rippled into about 1,000 writes. So each panel
carries a *material fingerprint* of the findings it was built from, and a sync keeps the
written panel while that fingerprint still matches. The fingerprint covers, per finding: its
type (so the task's queues and flags), the task's given and suggested label, the duplicate
group and the partner tasks the finding names (the keeper, the matched task), and the score
rounded to 0.1. It is read back from the panel in the task's own data (an HTML attribute),
so no state is kept beside it.

A kept panel's context can be stale: the panel says when it was built, a task whose other
fields are written anyway gets a fresh panel in that same PATCH, and
``winnow sync --refresh-evidence`` rebuilds and rewrites every panel.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict

from sync.review.evidence_panel import FINGERPRINT_ATTR
from sync.review.state import Finding, TaskRow

SCORE_STEP = 1  # decimals the score is rounded to: a drift below 0.1 is not material
_READ = re.compile(rf'{FINGERPRINT_ATTR}="([0-9a-f]+)"')
_TASK_ID = re.compile(r"task (\d+)")


def material_fingerprints(findings: list[Finding]) -> dict[int, str]:
    """Task id -> fingerprint of what its panel asks the reviewer to act on (module doc)."""
    parts: dict[int, list[tuple]] = defaultdict(list)
    for f in findings:
        named = sorted({int(t) for t in _TASK_ID.findall(f.details)} - {f.task_id})
        parts[f.task_id].append(
            (
                f.issue_type,
                f.given_label or "",
                f.suggested_label or "",
                f.group or "",
                named,
                round(f.score, SCORE_STEP),
            )
        )
    return {
        task_id: hashlib.sha256(json.dumps(sorted(p)).encode()).hexdigest()[:16]
        for task_id, p in parts.items()
    }


def panel_fingerprint(html: object) -> str | None:
    """The fingerprint a written panel was built from (None: none, or not a panel)."""
    if not isinstance(html, str):
        return None
    found = _READ.search(html)
    return found.group(1) if found else None


def kept_panel(task: TaskRow, fingerprint: str | None) -> str | None:
    """The task's written panel if it was built from ``fingerprint`` (None: rebuild it)."""
    current = task.data.get("winnow_evidence")
    if fingerprint is None or panel_fingerprint(current) != fingerprint:
        return None
    return current
