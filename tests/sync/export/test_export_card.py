"""The dataset card's numbers match the data; versions grow with stable splits and a
changelog that counts what changed."""

from __future__ import annotations

import re

import pandas as pd

from sync.export.card import class_split_counts, leakage_counts
from sync.export.job import export_dataset
from sync.export.plan import ExportOptions


def _export(frame, root, settings, resolve, **kwargs):
    return export_dataset(
        frame,
        str(root),
        settings=settings,
        resolve=resolve,
        options=ExportOptions(**kwargs),
        title="Crops",
    )


def _card_table(card: str, heading: str) -> pd.DataFrame:
    section = card.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:  # the first table only
        if not line.startswith("|"):
            break
        rows.append(line)
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    return pd.DataFrame(cells[2:], columns=cells[0])


def test_card_counts_cleaning_log_and_leakage(records, tmp_path, settings, resolve) -> None:
    frame = records.copy()
    frame.loc[0, "flags"] = ["label_issue"]
    frame.loc[1, "flags"] = ["blurry"]
    frame.loc[2, "licence"] = None
    frame["group"] = [f"session-{i // 4}" for i in range(len(frame))]  # groups of 4
    result = _export(frame, tmp_path / "out", settings, resolve)
    card = (tmp_path / "out/v1.0/DATASET_CARD.md").read_text()
    table = _card_table(card, "Counts per class and split").set_index("label")
    expected = class_split_counts(result.manifest)
    assert (
        table.astype(int).loc[expected.index, list(expected.columns)].equals(expected.astype(int))
    )
    assert len(result.manifest) == 39
    log = _card_table(card, "Cleaning log").set_index("finding")
    assert log.loc["label_issue", "action"] == "excluded"
    assert log.loc["blurry", "action"].startswith("kept")
    assert "1 images (3%) have no recorded licence" in card
    assert "## Leakage checks (passed)" in card
    per_group = result.manifest.groupby("group")["split"].nunique()
    assert (per_group == 1).all()
    assert "From 2024-01-01 to 2024-01-28" in card
    assert "winnow export" in card and "First version: 39 images." in card


def test_leakage_check_can_fail() -> None:
    manifest = pd.DataFrame(
        {
            "sha256": ["a", "b", "c", "a"],
            "group": ["g1", "g1", "g2", "g3"],
            "split": ["train", "test", "val", "val"],
        }
    )
    assert leakage_counts(manifest) == {"group_leaks": 2, "content_leaks": 1}


def test_limitations_are_computed(records, tmp_path, settings, resolve) -> None:
    lopsided = pd.concat(
        [
            records[records["labels"].str[0] != "rocket"],
            records[records["labels"].str[0] == "rocket"].head(2),
        ]
    )
    _export(lopsided, tmp_path / "out", settings, resolve)
    card = (tmp_path / "out/v1.0/DATASET_CARD.md").read_text()
    limits = card.split("## Known limitations", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"Class imbalance: '\w+' has 10 images, 'rocket' 2 \(5\.0x\)", limits)
    assert "Fewer than 10 training images" in limits


def test_growth_keeps_splits_and_logs_changes(
    records, make_records, tmp_path, settings, resolve
) -> None:
    first = _export(records, tmp_path / "out", settings, resolve)
    grown = records.iloc[3:].copy()  # three removed
    relabelled = grown["sha256"].iloc[:2].tolist()
    grown.loc[grown.index[:2], "labels"] = pd.Series(
        [["rocket"], ["rocket"]], index=grown.index[:2]
    )
    added = make_records(7, per_class=2, first_task=1000)
    second = _export(
        pd.concat([grown, added], ignore_index=True), tmp_path / "out", settings, resolve
    )
    assert second.version == "1.1"
    before = first.manifest.set_index("sha256")["split"]
    after = second.manifest.set_index("sha256")["split"]
    common = before.index.intersection(after.index)
    assert len(common) == 37 and (before[common] == after[common]).all()
    assert set(
        second.manifest.loc[second.manifest["sha256"].isin(set(before.index)), "split_source"]
    ) == {"previous version"}
    card = (tmp_path / "out/v1.1/DATASET_CARD.md").read_text()
    log = card.split("## Changelog (against 1.0)", 1)[1]
    assert "- added: 8\n- removed: 3\n- relabelled: 2\n- moved between splits: 0" in log
    assert all(f"`{sha[:12]}`" in log for sha in relabelled)
