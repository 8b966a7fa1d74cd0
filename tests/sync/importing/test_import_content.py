"""New content: features computed through the real pipeline, unusable files skipped with the
pipeline's reason, and duplicates (in the project or the batch) dropped, first one kept."""

from __future__ import annotations

import shutil
from pathlib import Path

from sync.importing.content import check_content, drop_duplicates, label_conflicts
from sync.importing.provenance import LABEL_CONFLICT, Candidate, Provenance, Skip
from winnow.config import get_settings
from winnow.store import FeatureStore


def _candidate(path: Path, *labels: str, sha: str | None = None) -> Candidate:
    return Candidate(Provenance("folder", str(path)), str(path), labels=labels, sha256=sha)


def test_features_are_stored_and_bad_files_skipped(
    tmp_path: Path, real_images_dir: Path, test_data_dir: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(real_images_dir / "coffee.jpg", folder / "coffee.jpg")
    (folder / "page.jpg").write_bytes(b"<!doctype html><html></html>")
    (folder / "empty.png").write_bytes(b"")
    candidates = [_candidate(folder / n, "x") for n in ("coffee.jpg", "page.jpg", "empty.png")]
    candidates.append(_candidate(folder / "gone.jpg"))
    settings = get_settings(data_dir=tmp_path / "store", features={"workers": 0})

    usable, skipped = check_content(candidates, settings=settings, trusted_roots=[folder])

    assert [Path(c.read_uri).name for c in usable] == ["coffee.jpg"]
    assert len(usable[0].sha256 or "") == 64
    reasons = {Path(s.source).name: s.reason for s in skipped}
    assert reasons == {
        "page.jpg": "not_an_image",
        "empty.png": "zero_byte",
        "gone.jpg": "fetch_failed",
    }
    with FeatureStore(settings.store_path) as store:
        assert usable[0].sha256 in store.known_images([usable[0].sha256 or ""])
    again, _ = check_content(candidates[:1], settings=settings, trusted_roots=[folder])
    assert again[0].sha256 == usable[0].sha256


def test_local_files_outside_the_import_folders_are_refused(
    tmp_path: Path, real_images_dir: Path
) -> None:
    """Only the folders the import chose are read; io.local_roots is empty by default."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(real_images_dir / "coffee.jpg", folder / "coffee.jpg")
    settings = get_settings(data_dir=tmp_path / "store", features={"workers": 0})

    usable, skipped = check_content([_candidate(folder / "coffee.jpg")], settings=settings)

    assert usable == []
    assert [s.reason for s in skipped] == ["blocked_source"]


def test_first_copy_wins_and_project_content_is_a_duplicate(tmp_path: Path) -> None:
    a = _candidate(tmp_path / "cat/a.jpg", "cat", sha="s1")
    b = _candidate(tmp_path / "dog/b.jpg", "dog", sha="s1")
    c = _candidate(tmp_path / "cat/c.jpg", "cat", sha="s2")
    d = _candidate(tmp_path / "cat/d.jpg", "cat", sha="s3")

    kept, skipped = drop_duplicates([a, b, c, d], {"s3": 42})

    assert kept == [a, c]
    assert [(s.source, s.reason, s.detail) for s in skipped] == [
        (b.source, "duplicate", f"same content as {a.source}"),
        (d.source, "duplicate", "same content as task 42"),
    ]
    assert label_conflicts(kept, skipped) == {"s1": [LABEL_CONFLICT]}


def test_duplicates_without_labels_or_with_the_same_labels_are_no_conflict() -> None:
    kept = [Candidate(Provenance("url_list", "u1"), "p", labels=("cat",), sha256="s")]
    same = Skip("u2", "duplicate", sha256="s", labels=("cat",))
    unlabelled = Skip("u3", "duplicate", sha256="s")
    other_reason = Skip("u4", "not_an_image", sha256="s", labels=("dog",))
    assert label_conflicts(kept, [same, unlabelled, other_reason]) == {}
