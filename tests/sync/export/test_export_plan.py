"""The plan: group-by fields and time order reach the splits; formats are checked."""

from __future__ import annotations

import pandas as pd
import pytest

from sync.export.plan import ExportOptions, make_plan
from winnow.errors import ConfigError


def test_group_by_field_keeps_a_site_in_one_split(records) -> None:
    frame = records.copy()
    frame["site"] = [f"site-{i % 7}" for i in range(len(frame))]
    plan = make_plan(frame, ExportOptions(group_by="site"))
    assert (plan.items.groupby("site")["split"].nunique() == 1).all()
    assert plan.items["split"].nunique() > 1
    with pytest.raises(ConfigError, match="'nope' is not a column"):
        make_plan(frame, ExportOptions(group_by="nope"))


def test_time_aware_puts_the_newest_in_test(records) -> None:
    frame = records.copy()
    frame["collected_at"] = pd.date_range("2023-01-01", periods=len(frame), freq="W").astype(str)
    frame = frame.sample(frac=1, random_state=0)
    items = make_plan(frame, ExportOptions(time_aware=True)).items
    when = pd.to_datetime(items["collected_at"])
    assert when[items["split"] == "train"].max() < when[items["split"] == "val"].min()
    assert when[items["split"] == "val"].max() < when[items["split"] == "test"].min()


def test_records_split_wins_over_assignment(records) -> None:
    frame = records.copy()
    frame.loc[:9, "split"] = "test"
    items = make_plan(frame, ExportOptions()).items.set_index("task_id")
    assert (items.loc[1:10, "split"] == "test").all()
    assert (items.loc[1:10, "split_source"] == "records").all()


def test_formats_are_checked(records) -> None:
    with pytest.raises(ConfigError, match="unknown export formats"):
        make_plan(records, ExportOptions(formats=("tfrecord",)))
    with pytest.raises(ConfigError, match="coco and yolo need boxes"):
        make_plan(records, ExportOptions(formats=("coco",)))
    assert make_plan(records, ExportOptions()).formats == ("manifest", "folders")
