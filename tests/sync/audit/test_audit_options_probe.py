"""The label-issue probe is chosen in the settings and reaches the audit."""

import pytest

from sync.audit.folder import audit_options
from winnow.config import get_settings
from winnow.errors import ConfigError


def test_the_probe_setting_reaches_the_audit_options(tmp_path) -> None:
    default = audit_options(get_settings(data_dir=tmp_path))
    assert default.label_issue_probe == "logistic"
    chosen = get_settings(data_dir=tmp_path, audit={"label_issue_probe": "logistic+knn"})
    assert audit_options(chosen).label_issue_probe == "logistic+knn"


def test_an_unknown_probe_is_refused_by_name(tmp_path) -> None:
    with pytest.raises(ConfigError, match="label_issue_probe"):
        get_settings(data_dir=tmp_path, audit={"label_issue_probe": "forest"})
