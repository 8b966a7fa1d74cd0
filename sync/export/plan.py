"""Turn a records frame into an export plan: who goes in, in which split, in which formats."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.splits import assign_splits, combine_groups
from sync.export.policy import select
from sync.export.records import Kind, detect_kind, normalise
from winnow.config import ExportSettings
from winnow.errors import ConfigError

FORMATS = ("folders", "manifest", "coco", "yolo", "webdataset")
DEFAULT_FORMATS: dict[str, tuple[str, ...]] = {
    "classification": ("folders", "manifest"),
    "multi_label": ("manifest",),
    "detection": ("manifest", "coco", "yolo"),
}


@dataclass(frozen=True)
class ExportOptions:
    """What to export and how to split it. ``None`` fields take the project's defaults."""

    formats: tuple[str, ...] | None = None
    kind: Kind | None = None
    group_by: str | None = None  # a frame column whose equal values must share a split
    time_aware: bool = False  # split by collected_at instead of stratifying
    settings: ExportSettings = field(default_factory=ExportSettings)


@dataclass
class ExportPlan:
    kind: Kind
    formats: tuple[str, ...]
    items: pd.DataFrame  # the kept records, plus ``split``, ``group`` and ``split_source``
    excluded: pd.DataFrame  # policy.EXCLUSION_COLUMNS
    records: pd.DataFrame  # every normalised record, for the card's cleaning log


def make_plan(
    frame: pd.DataFrame, options: ExportOptions, *, previous: pd.DataFrame | None = None
) -> ExportPlan:
    """Apply the policy, then split. ``previous`` is the last version's manifest: its items
    keep their split (a split given in the records wins over it)."""
    records = normalise(frame)
    kind = options.kind or detect_kind(records)
    formats = check_formats(options.formats or DEFAULT_FORMATS[kind], kind)
    chosen = select(records, exclude_flags=options.settings.exclude_flags)
    items = chosen.kept.reset_index(drop=True)
    items["split_source"] = _existing_source(items, previous)
    items["split"] = _existing(items, previous)
    items["group"] = _groups(items, options.group_by)
    items["split"] = assign_splits(
        items["labels"].tolist(),
        fractions=options.settings.split_fractions,
        groups=items["group"].tolist(),
        existing=items["split"].tolist(),
        times=items["collected_at"].tolist() if options.time_aware else None,
        seed=options.settings.seed,
    )
    return ExportPlan(kind, formats, items, chosen.excluded, records)


def check_formats(formats: tuple[str, ...] | list[str], kind: Kind) -> tuple[str, ...]:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ConfigError(f"unknown export formats {unknown}; choose from {', '.join(FORMATS)}")
    if "folders" in formats and kind != "classification":
        raise ConfigError(
            f"the folders format needs one class per image; this is a {kind} "
            "project: use manifest (and coco/yolo for detection)"
        )
    if {"coco", "yolo"} & set(formats) and kind != "detection":
        raise ConfigError("coco and yolo need boxes; this project has none")
    return tuple(dict.fromkeys(["manifest", *formats]))  # the manifest is always written


def _existing(items: pd.DataFrame, previous: pd.DataFrame | None) -> pd.Series:
    given = items["split"].astype(object)
    if previous is None or previous.empty:
        return given
    before = previous.drop_duplicates("sha256").set_index("sha256")["split"]
    return given.where(given.notna(), items["sha256"].map(before))


def _existing_source(items: pd.DataFrame, previous: pd.DataFrame | None) -> pd.Series:
    source = pd.Series("assigned", index=items.index, dtype=object)
    if previous is not None and not previous.empty:
        source[items["sha256"].isin(set(previous["sha256"]))] = "previous version"
    source[items["split"].notna()] = "records"
    return source


def _groups(items: pd.DataFrame, group_by: str | None) -> list[object]:
    keys = [items["group"].tolist()]
    if group_by is not None:
        if group_by not in items.columns:
            raise ConfigError(f"--group-by {group_by!r} is not a column of the records frame")
        keys.append(items[group_by].tolist())
    ids = combine_groups(*keys)
    return [f"g{i}" for i in ids]
