"""Shared bits of the peer runners: they run inside the peers' virtualenv (setup.sh), never in
the app's, and answer with one JSON document on stdout so the benchmarks only parse text.

On import, file descriptor 1 is pointed at stderr: peers print progress bars from Python and
from C (fastdup) alike, and only ``emit`` writes to the real stdout.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("SENTRY_OPT_OUT", "1")  # fastdup: no telemetry, no network

sys.stdout.flush()
_ANSWER = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)


def emit(result: dict) -> None:
    """Write the JSON answer on the real stdout."""
    sys.stdout.flush()
    _ANSWER.write(json.dumps(result) + "\n")
    _ANSWER.flush()


def relative(path: str | Path, folder: Path) -> str:
    """Paths in answers are relative to the audited folder, as the benchmarks name files."""
    p = Path(path)
    return str(p.relative_to(folder)) if p.is_absolute() else str(p)
