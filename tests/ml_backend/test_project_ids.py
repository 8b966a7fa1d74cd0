"""Label Studio sends the project as ``<id>.<timestamp>``."""

from __future__ import annotations

from ml_backend.versions import project_id


def test_project_ids_from_label_studio():
    assert project_id("12.1700000000") == 12
    assert project_id(7) == 7
    assert project_id(None) is None
    assert project_id("abc") is None
