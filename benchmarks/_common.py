"""Shared bits of the benchmark scripts: a machine description and RESULTS.md recording."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import sys
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"machine: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def record_result(title: str, lines: list[str]) -> None:
    """Append one dated section with the exact command to RESULTS.md."""
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(f"    {line}" for line in lines)
    with RESULTS.open("a") as fh:
        fh.write(f"\n## {title} ({date})\n\nCommand: `{command}`\n\n{body}\n")
