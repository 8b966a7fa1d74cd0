"""``winnow samples OUT``: lay out the real sample data sets that install offline."""

from __future__ import annotations

from pathlib import Path

import typer

from winnow import samples as sample_sets
from winnow.cli.console import console


def _mosaics(out: Path) -> int:
    from winnow.mosaics import build_mosaics

    return build_mosaics(out)


BUILDERS = {
    "demo": sample_sets.build_demo,
    "tuxpaint": sample_sets.build_tuxpaint,
    "bench": sample_sets.build_bench,
    "edge-cases": sample_sets.build_edge_cases,
    "mosaics": _mosaics,
}


def samples(
    out: Path = typer.Argument(..., help="where to write the data sets"),
    which: list[str] = typer.Option(
        ["demo"], "--which", "-w", help="demo | tuxpaint | bench | edge-cases | mosaics"
    ),
    force: bool = typer.Option(False, help="rebuild even if present"),
) -> None:
    """Build sample data sets from Debian/PyPI packages (no downloads); mosaics is
    multi-label, with its label sets in labels.csv."""
    for name in which:
        if name not in BUILDERS:
            raise typer.BadParameter(f"unknown sample set {name!r}", param_hint="--which")
        target = out / name
        if target.is_dir() and any(target.iterdir()) and not force:
            console.print(f"{name}: present at {target}", highlight=False)
            continue
        result = BUILDERS[name](target)
        count = len(result) if isinstance(result, dict) else result
        console.print(f"{name}: wrote {count} files to {target}", highlight=False)
