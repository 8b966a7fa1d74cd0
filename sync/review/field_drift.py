"""When a task's written fields are kept although the audit's numbers moved.

A label-issue refit after a few edits moves every out-of-sample probability a little, so the
severity, the label-issue score and the probabilities quoted in ``meta`` change on hundreds
of tasks whose findings did not. Each such change is one PATCH (Label Studio has no bulk
update of task data). Measured on 10,000 real Fashion-MNIST tasks with embeddings, after 100
label edits: 567 tasks wanted a write and 293 of them only because numbers moved; those
scores moved by 0.03 or less in 90% of cases (99%: 0.075). So a task keeps what was
written while everything but the numbers is the same and its sort keys moved by at most
:data:`SCORE_TOLERANCE`. Queues, flags, suggestions, groups and texts are always current.
A View's order can then be off by that much, and the quoted probabilities can be as old as
the last material change. ``winnow sync --refresh-evidence`` rewrites everything.
"""

from __future__ import annotations

import json
import re
from typing import Any

SCORE_TOLERANCE = 0.05  # a sort key that moved less is not rewritten
SORT_KEYS = ("winnow_severity", "winnow_label_issue_score")
_NUMBER = re.compile(r"\d+\.\d+")


def only_numbers_drifted(
    written: tuple[dict[str, Any], dict[str, Any]], wanted: tuple[dict[str, Any], dict[str, Any]]
) -> bool:
    """True when ``wanted`` (data, meta) differs from ``written`` only by decimal numbers,
    and no sort key moved by more than :data:`SCORE_TOLERANCE` (the module doc says why)."""
    (old_data, old_meta), (new_data, new_meta) = written, wanted
    if old_data.keys() != new_data.keys():
        return False
    for key in SORT_KEYS:
        old, new = old_data.get(key), new_data.get(key)
        if (old is None) != (new is None):
            return False
        if old is not None and not _close(old, new):
            return False
    return _masked(old_data) == _masked(new_data) and _masked(old_meta) == _masked(new_meta)


def _close(old: Any, new: Any) -> bool:
    try:
        return abs(float(old) - float(new)) <= SCORE_TOLERANCE
    except (TypeError, ValueError):
        return False


def _masked(fields: dict[str, Any]) -> dict[str, str]:
    """Each field as JSON with its decimal numbers masked; lists sorted, since findings are
    listed by score and a drift can swap two of them."""
    out = {}
    for key, value in fields.items():
        if key in SORT_KEYS:
            continue
        items = sorted(value, key=json.dumps) if isinstance(value, list) else value
        out[key] = _NUMBER.sub("#", json.dumps(items, sort_keys=True))
    return out
