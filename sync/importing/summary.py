"""The result of one import: what became a task, what was skipped and why, and where the
time went. Rendered as the table at the end of ``winnow import``."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from sync.importing.provenance import Skip

# Skip kinds in the order the table shows them, with their explanation.
REASONS = {
    "already_imported": "already in the project (same source)",
    "duplicate": "duplicate content (same sha256)",
    "too_large": "too large (bytes or pixels over the limit)",
    "not_an_image": "not an image",
    "zero_byte": "empty file or response",
    "truncated": "truncated image",
    "corrupt": "corrupt image",
    "unsupported": "unsupported image format",
    "blocked_source": "blocked URL (SSRF guard or policy)",
    "fetch_failed": "HTTP or read error",
    "invalid_row": "invalid URL-list row",
    "internal_error": "unexpected error (a bug; please report)",
}


@dataclass
class ImportSummary:
    project_id: int
    project_title: str
    project_url: str
    source_kind: str
    layout: str | None = None
    created_project: bool = False
    labels_added: list[str] = field(default_factory=list)
    considered: int = 0  # sources looked at (rows, files, keys)
    ignored_files: int = 0  # files or keys without an image extension
    imported: int = 0
    annotations: int = 0
    skipped: list[Skip] = field(default_factory=list)
    flags: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    display_root: str = ""  # shown sources drop this prefix (the imported folder)

    @property
    def skipped_by_reason(self) -> Counter[str]:
        return Counter(skip.reason for skip in self.skipped)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add the wall time of the ``with`` body to ``seconds[phase]``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[phase] = self.seconds.get(phase, 0.0) + elapsed


def render_summary(summary: ImportSummary, console: Console, *, examples: int = 5) -> None:
    """The summary table, skip reasons with a few examples each, flags and timings."""
    table = Table(
        title=f"Import into project {summary.project_id} ({summary.project_title})",
        show_header=False,
    )
    table.add_row(
        "source", summary.source_kind + (f" ({summary.layout} layout)" if summary.layout else "")
    )
    table.add_row(
        "project", ("created " if summary.created_project else "existing ") + summary.project_url
    )
    if summary.labels_added:
        table.add_row("labels added", ", ".join(summary.labels_added))
    table.add_row("considered", str(summary.considered))
    table.add_row("imported tasks", str(summary.imported))
    table.add_row("imported annotations", str(summary.annotations))
    table.add_row("skipped", str(len(summary.skipped)))
    if summary.ignored_files:
        table.add_row("ignored (no image extension)", str(summary.ignored_files))
    for flag, count in sorted(summary.flags.items()):
        table.add_row(f"flagged {flag}", str(count))
    for phase, seconds in summary.seconds.items():
        table.add_row(f"{phase} seconds", f"{seconds:.1f}")
    console.print(table)
    _render_skips(summary, console, examples)


def _render_skips(summary: ImportSummary, console: Console, examples: int) -> None:
    counts = summary.skipped_by_reason
    if not counts:
        return
    table = Table("reason", "count", "examples", title="Skipped")
    order = [r for r in REASONS if r in counts] + sorted(set(counts) - set(REASONS))
    for reason in order:
        shown = [s for s in summary.skipped if s.reason == reason][:examples]
        lines = "\n".join(_line(s, summary.display_root) for s in shown)
        table.add_row(REASONS.get(reason, reason), str(counts[reason]), lines)
    console.print(table)


def _line(skip: Skip, root: str) -> str:
    name = skip.source.removeprefix(root)
    return f"{name}: {skip.detail}" if skip.detail else name
