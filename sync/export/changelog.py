"""What changed between two versions' manifests, matched by content (sha256)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from sync.export.records import as_list


@dataclass
class Changelog:
    previous: str | None
    added: list[str] = field(default_factory=list)  # sha256
    removed: list[str] = field(default_factory=list)
    relabelled: list[tuple[str, list[str], list[str]]] = field(default_factory=list)
    moved: list[tuple[str, str, str]] = field(default_factory=list)  # sha, old split, new


def manifest_labels(manifest: pd.DataFrame) -> pd.Series:
    """Labels per sha256 as sorted lists, whichever label column the manifest has."""
    column = "labels" if "labels" in manifest.columns else "label"
    values = [sorted(as_list(v)) for v in manifest[column]]
    return pd.Series(values, index=manifest["sha256"].to_numpy())


def diff_manifests(
    previous: pd.DataFrame | None, current: pd.DataFrame, previous_version: str | None = None
) -> Changelog:
    log = Changelog(previous=previous_version)
    if previous is None:
        log.added = sorted(current["sha256"])
        return log
    old, new = set(previous["sha256"]), set(current["sha256"])
    log.added, log.removed = sorted(new - old), sorted(old - new)
    old_labels, new_labels = manifest_labels(previous), manifest_labels(current)
    old_split = previous.set_index("sha256")["split"]
    new_split = current.set_index("sha256")["split"]
    for sha in sorted(old & new):
        if old_labels[sha] != new_labels[sha]:
            log.relabelled.append((sha, old_labels[sha], new_labels[sha]))
        if old_split[sha] != new_split[sha]:
            log.moved.append((sha, str(old_split[sha]), str(new_split[sha])))
    return log
