"""The labeling config decides whether a project's labels are sets: a ``choice="multiple"``
project whose tasks each carry one label still gets the multi-label model report and a
multi-label export; a folder (no config) is judged by its labels."""

import pandas as pd
import pytest

from analysis.audit import AuditResult
from sync.export.cli import resolve_kind
from sync.export.sources import project_kind
from sync.project_frame import labels_are_sets
from sync.report.inputs import ReportInputs
from sync.report.model import wants_multilabel
from sync.review.state import SyncState, state_path

DETECTION = """<View><Image name="image" value="$image"/>
  <RectangleLabels name="box" toName="image"><Label value="cat"/></RectangleLabels></View>"""


def _inputs(labels: list[str | None], multi_label: bool | None) -> ReportInputs:
    files = pd.DataFrame({"label": labels})
    return ReportInputs(AuditResult(pd.DataFrame(), files), None, None, bytes, "t", multi_label)


@pytest.fixture
def settings_with_projects(make_settings, make_config):
    """Settings whose sync state knows projects 1 (multiple), 2 (single), 3 (boxes)."""
    settings = make_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configs = {
        1: make_config('value="Bag"', 'value="Coat"', multiple=True),
        2: make_config('value="Bag"', 'value="Coat"'),
        3: DETECTION,
    }
    with SyncState(state_path(settings.data_dir)) as state:
        for project, config in configs.items():
            state.update_project(project, label_config=config)
    return settings


def test_the_config_says_whether_labels_are_sets(settings_with_projects) -> None:
    found = {p: labels_are_sets(settings_with_projects, p) for p in (1, 2, 3, 4)}
    assert found == {1: True, 2: False, 3: False, 4: None}  # 4: never pulled


def test_single_labels_in_a_multiple_choice_project_get_the_multilabel_report() -> None:
    one_each = ["Bag", "Coat", "Bag", None]
    assert wants_multilabel(_inputs(one_each, multi_label=True))
    assert not wants_multilabel(_inputs(one_each, multi_label=None))
    # a single-choice class named with a "+" is one class, not a set
    assert not wants_multilabel(_inputs(["C++", "Go"], multi_label=False))
    assert wants_multilabel(_inputs(["Bag+Coat", "Bag"], multi_label=None))  # a folder


def test_export_kind_auto_follows_the_config(settings_with_projects) -> None:
    assert resolve_kind("auto", settings_with_projects, 1) == "multi_label"
    assert resolve_kind("auto", settings_with_projects, 2) is None  # the records decide
    assert resolve_kind("auto", settings_with_projects, None) is None
    assert resolve_kind("classification", settings_with_projects, 1) == "classification"
    # the one-call export the demo uses decides the same way
    assert [project_kind(settings_with_projects, p) for p in (1, 2, 3)] == [
        "multi_label",
        None,
        None,
    ]
