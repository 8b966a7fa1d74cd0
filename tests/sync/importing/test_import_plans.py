"""What each source offers before anything is fetched, and the pure pieces around it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rich.console import Console

from sync.importing.folder import plan_folder
from sync.importing.job import source_kind
from sync.importing.provenance import Skip
from sync.importing.s3_prefix import split_prefix
from sync.importing.storage import local_files_url
from sync.importing.summary import ImportSummary, render_summary
from sync.importing.url_list import plan_url_list, save_content
from winnow.errors import ConfigError


def test_split_class_folder(tmp_path: Path, real_images_dir: Path) -> None:
    for rel in ("train/cat/a.png", "train/drink/b.jpg", "valid/cat/c.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(
            real_images_dir / ("chelsea.png" if "cat" in rel else "coffee.jpg"), tmp_path / rel
        )
    (tmp_path / "README.md").write_text("about")

    plan = plan_folder(tmp_path, licence="CC0-1.0")

    assert plan.layout == "split/class" and plan.kind == "folder"
    assert [(Path(c.source).name, c.labels, c.split) for c in plan.candidates] == [
        ("a.png", ("cat",), "train"),
        ("b.jpg", ("drink",), "train"),
        ("c.png", ("cat",), "val"),
    ]
    assert plan.labels == ["cat", "drink"]
    assert (plan.considered, plan.ignored_files) == (4, 1)
    assert all(
        c.provenance.licence == "CC0-1.0" and not c.provenance.flags for c in plan.candidates
    )


def test_url_list_plan_skips_bad_rows_and_repeated_urls(tmp_path: Path) -> None:
    path = tmp_path / "urls.csv"
    path.write_text(
        "url,label,licence\n"
        "https://a.org/1.jpg,cat,CC0\n"
        "not a url,cat,\n"
        "https://a.org/2.jpg,dog,\n"
        "https://a.org/1.jpg,dog,\n"
    )
    plan = plan_url_list(path, licence="unknown-but-given", author="Team")

    assert [c.source for c in plan.candidates] == ["https://a.org/1.jpg", "https://a.org/2.jpg"]
    licences = [c.provenance.licence for c in plan.candidates]
    assert licences == ["CC0", "unknown-but-given"]
    assert [(s.source, s.reason) for s in plan.skipped] == [
        ("urls.csv line 3", "invalid_row"),
        ("https://a.org/1.jpg", "duplicate"),
    ]
    assert "first on line 2" in plan.skipped[1].detail
    assert plan.considered == 4


def test_saved_downloads_are_content_addressed_and_written_once(tmp_path: Path) -> None:
    first = save_content(tmp_path, "ab" + "0" * 62, "JPEG", b"\xff\xd8\xffdata")
    assert first == tmp_path / "ab" / ("ab" + "0" * 62 + ".jpg")
    mtime = first.stat().st_mtime_ns
    assert save_content(tmp_path, "ab" + "0" * 62, "JPEG", b"\xff\xd8\xffdata") == first
    assert first.stat().st_mtime_ns == mtime and first.read_bytes() == b"\xff\xd8\xffdata"
    assert list(first.parent.iterdir()) == [first]  # no temporary file left behind


def test_local_files_urls_are_relative_to_the_root_and_quoted(tmp_path: Path) -> None:
    path = tmp_path / "sets" / "my pets" / "ça #1.jpg"
    expected = "/data/local-files/?d=sets/my%20pets/%C3%A7a%20%231.jpg"
    assert local_files_url(path, tmp_path) == expected
    with pytest.raises(ValueError):
        local_files_url(Path("/elsewhere/x.jpg"), tmp_path)


def test_s3_prefixes_and_source_kinds(tmp_path: Path) -> None:
    assert split_prefix("s3://bucket/photos") == ("bucket", "photos/")
    assert split_prefix("s3://bucket/photos/") == ("bucket", "photos/")
    assert split_prefix("s3://bucket") == ("bucket", "")
    with pytest.raises(ConfigError, match="no bucket"):
        split_prefix("s3:///photos")
    (tmp_path / "list.jsonl").write_text("")
    assert source_kind(str(tmp_path)) == "folder"
    assert source_kind(str(tmp_path / "list.jsonl")) == "url_list"
    assert source_kind("s3://b/p/") == "s3"
    with pytest.raises(ConfigError, match="not a folder, a URL-list file"):
        source_kind(str(tmp_path / "nope"))


def test_summary_table_names_every_skip_reason_with_examples() -> None:
    summary = ImportSummary(
        project_id=3,
        project_title="Pets",
        project_url="http://ls/projects/3",
        source_kind="folder",
        layout="class",
        imported=2,
        annotations=2,
        considered=5,
        display_root="/data/pets/",
    )
    summary.skipped = [
        Skip("/data/pets/cat/x.jpg", "duplicate", "same content as /data/pets/cat/y.jpg"),
        Skip("/data/pets/cat/z.jpg", "not_an_image", "not an image file"),
        Skip("https://a.org/b.jpg", "blocked_source", "resolves to 10.0.0.1"),
    ]
    summary.flags.update(["no_licence", "no_licence"])
    console = Console(record=True, width=160)
    render_summary(summary, console)
    text = console.export_text()

    for expected in (
        "imported tasks",
        "duplicate content",
        "not an image",
        "blocked URL",
        "cat/x.jpg: same content as",
        "flagged no_licence",
        "resolves to 10.0.0.1",
    ):
        assert expected in text
    assert "/data/pets/cat/x.jpg" not in text  # shown relative to the folder
    assert summary.skipped_by_reason == {"duplicate": 1, "not_an_image": 1, "blocked_source": 1}
