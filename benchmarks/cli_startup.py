"""How long ``winnow --help`` and ``winnow <command> --help`` take, beside the naive baseline.

The baseline is what the CLI did before commands loaded lazily: import every command's work
(the backend, training, the audit) before parsing arguments. Both run in fresh interpreters,
several times each; the median is reported.

    python benchmarks/cli_startup.py [--repeat 5] [--record]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _common import machine_line, record_result

COMMANDS = ["sync", "audit", "backend", "report", "serve", "export"]
# What building the CLI imported eagerly before: the backend (torch through training), the
# audit (cleanlab), the report and the API.
EAGER = (
    "import ml_backend.server, analysis.audit, sync.report.model, serve.app; "
    "from winnow.cli.app import build_app; build_app()"
)


def seconds(argv: list[str], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--record", action="store_true", help="write benchmarks/RESULTS.md")
    args = parser.parse_args()
    winnow = [sys.executable, "-m", "winnow"]
    lazy = seconds([*winnow, "--help"], args.repeat)
    eager = seconds([sys.executable, "-c", EAGER], args.repeat)
    lines = [
        machine_line(),
        f"winnow --help: {lazy:.2f} s (median of {args.repeat})",
        f"eager baseline (every command's work imported first): {eager:.2f} s",
        f"ratio: {eager / lazy:.1f}x faster",
    ]
    for name in COMMANDS:
        lines.append(
            f"winnow {name} --help: {seconds([*winnow, name, '--help'], args.repeat):.2f} s"
        )
    print("\n".join(lines))
    if args.record:
        record_result("CLI start-up", lines)


if __name__ == "__main__":
    main()
