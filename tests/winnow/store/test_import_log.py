"""The import log shares the feature store's file and keeps one row per project and source."""

from __future__ import annotations

from pathlib import Path

from winnow.store import FeatureStore
from winnow.store.import_log import ImportEntry, ImportLog


def _entry(source: str, sha: str | None, status: str = "imported", **kw) -> ImportEntry:
    return ImportEntry(
        project="http://ls#1", source=source, kind="url_list", status=status, sha256=sha, **kw
    )


def test_round_trip_replace_and_provenance_by_content(tmp_path: Path) -> None:
    path = tmp_path / "features.sqlite"
    with FeatureStore(path) as store:
        assert store.counts()["images"] == 0  # the store's own tables exist
    with ImportLog(path) as log:
        log.record(
            [
                _entry(
                    "https://a.org/1.jpg",
                    "s1",
                    url="https://a.org/1.jpg",
                    licence="CC0",
                    retrieved_at=1.5,
                    task_id=10,
                ),
                _entry("https://b.org/1.jpg", "s1", status="duplicate", reason="duplicate: x"),
                _entry("https://c.org/2.jpg", None, status="skipped", reason="fetch_failed: 404"),
            ]
        )
        log.record([_entry("https://c.org/2.jpg", "s2", task_id=11)])  # fixed on a re-run
        entries = {e.source: e for e in log.entries("http://ls#1")}
        assert log.entries("http://other#1") == []
        provenance = log.provenance(["s1", "s2", "s3"])

    assert len(entries) == 3
    first = entries["https://a.org/1.jpg"]
    assert (first.licence, first.retrieved_at, first.task_id) == ("CC0", 1.5, 10)
    assert first.imported_at > 0
    assert entries["https://c.org/2.jpg"].status == "imported"
    assert [e.source for e in provenance["s1"]] == ["https://a.org/1.jpg"]  # not the duplicate
    assert [e.task_id for e in provenance["s2"]] == [11]
    assert "s3" not in provenance
    with FeatureStore(path) as store:  # the store still opens and is untouched
        assert store.counts()["sources"] == 0
    with ImportLog(path) as log:
        assert len(log.frame()) == 3
