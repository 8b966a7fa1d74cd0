from pathlib import Path

import pytest

from winnow.features.walk import scan_folder


def _touch(root: Path, *rels: str) -> None:
    for rel in rels:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")


def test_class_layout(tmp_path: Path) -> None:
    _touch(tmp_path, "cat/a.jpg", "cat/sub/b.PNG", "dog/c.jpeg", "dog/notes.txt", ".hidden/x.jpg")
    scan = scan_folder(tmp_path)
    assert scan.layout == "class"
    assert [(Path(i.uri).name, i.label, i.split) for i in scan.items] == [
        ("a.jpg", "cat", None),
        ("b.PNG", "cat", None),
        ("c.jpeg", "dog", None),
    ]
    assert scan.skipped == 1


def test_split_class_layout_normalises_split_names(tmp_path: Path) -> None:
    _touch(tmp_path, "train/cat/a.jpg", "validation/dog/b.jpg", "test/cat/c.jpg")
    scan = scan_folder(tmp_path)
    assert scan.layout == "split/class"
    assert {(i.label, i.split) for i in scan.items} == {
        ("cat", "train"),
        ("dog", "val"),
        ("cat", "test"),
    }


def test_flat_and_forced_layout(tmp_path: Path) -> None:
    _touch(tmp_path, "a.jpg", "b.gif")
    assert scan_folder(tmp_path).layout == "flat"
    assert all(i.label is None for i in scan_folder(tmp_path).items)
    _touch(tmp_path, "train/x.jpg")
    forced = scan_folder(tmp_path, layout="class")
    assert {i.label for i in forced.items} == {None, "train"}


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        scan_folder(tmp_path / "nope")
