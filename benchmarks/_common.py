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
    """Write one dated section with the exact command to RESULTS.md, replacing the sections of
    an earlier run of the same benchmark (same title), so each benchmark has one current one."""
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(f"    {line}" for line in lines)
    section = f"## {title} ({date})\n\nCommand: `{command}`\n\n{body}\n"
    old = RESULTS.read_text() if RESULTS.exists() else ""
    kept = [s for s in _sections(old) if not s.startswith(f"## {title} (")]
    RESULTS.write_text("\n".join([*kept, section]).lstrip("\n"))


def _sections(text: str) -> list[str]:
    """The file split before each ``## `` heading (the preamble, if any, first)."""
    parts, current = [], []
    for line in text.splitlines(keepends=True):
        if line.startswith("## ") and current:
            parts.append("".join(current))
            current = []
        current.append(line)
    if current:
        parts.append("".join(current))
    return [p.rstrip("\n") + "\n" for p in parts if p.strip()]


def runtime_env(spec: str) -> dict[str, str]:
    """``runtime[:precision]`` (``openvino``, ``torch``, ``openvino:bf16``) as the settings'
    environment variables, for a benchmark that times several ways of running the network."""
    runtime, _, precision = spec.partition(":")
    return {
        "WINNOW_EMBEDDING__RUNTIME": runtime,
        "WINNOW_EMBEDDING__PRECISION": precision or "fp32",
    }
