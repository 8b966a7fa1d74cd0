"""A folder's labels.csv brings label sets (and splits) with the images: what `winnow samples
-w mosaics` writes imports as it is, and a table that names files outside the folder, files
that are not there or the same file twice is refused with the row."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sync.importing.folder import plan_folder
from sync.importing.label_table import LabelTableError
from winnow.mosaics import build_mosaics


@pytest.fixture(scope="module")
def mosaics(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mosaics")
    build_mosaics(out, n=24, seed=3)
    return out


def _table(folder: Path) -> dict[str, tuple[tuple[str, ...], str]]:
    with open(folder / "labels.csv", newline="", encoding="utf-8") as fh:
        return {
            str((folder / r["image"]).resolve()): (tuple(r["labels"].split("|")), r["split"])
            for r in csv.DictReader(fh)
        }


def test_mosaics_folder_plans_with_its_label_sets_and_splits(mosaics: Path) -> None:
    plan = plan_folder(mosaics)

    want = _table(mosaics)
    got = {c.read_uri: (c.labels, c.split) for c in plan.candidates}
    assert got == want
    assert plan.layout == "labels.csv"
    assert any(len(labels) > 1 for labels, _ in got.values())  # real label sets
    assert {split for _, split in got.values()} == {"train", "test"}
    assert plan.ignored_files == 1  # the table itself is not an image


def test_an_unlisted_image_is_unlabelled_and_an_explicit_table_wins(
    mosaics: Path, tmp_path: Path
) -> None:
    table = tmp_path / "mine.csv"
    first = sorted(_table(mosaics))[0]
    rel = Path(first).relative_to(mosaics.resolve()).as_posix()
    table.write_text(f"image,labels\n{rel},Bag| Coat \n", encoding="utf-8")

    plan = plan_folder(mosaics, label_table=table)

    labelled = {c.read_uri: c.labels for c in plan.candidates if c.labels}
    assert labelled == {first: ("Bag", "Coat")}
    assert len(plan.candidates) == len(_table(mosaics))


def test_an_unrelated_labels_csv_is_left_alone(real_images_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "cat").mkdir()
    for name in ("chelsea.png", "chelsea.webp"):
        (tmp_path / "cat" / name).write_bytes((real_images_dir / name).read_bytes())
    (tmp_path / "labels.csv").write_text("id,price\n1,3\n", encoding="utf-8")

    plan = plan_folder(tmp_path)

    assert plan.layout == "class"
    assert {c.labels for c in plan.candidates} == {("cat",)}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("../outside.png,Bag\n", "not a file inside"),
        ("train/mosaic-00000.png,Bag\ntrain/mosaic-00000.png,Coat\n", "listed twice"),
        ("train/no-such-file.png,Bag\n", "name no image file"),
        (",Bag\n", "not a file inside"),
    ],
)
def test_bad_rows_are_refused_with_their_line(
    mosaics: Path, tmp_path: Path, rows: str, message: str
) -> None:
    table = tmp_path / "bad.csv"
    table.write_text("image,labels\n" + rows, encoding="utf-8")
    with pytest.raises(LabelTableError, match=message):
        plan_folder(mosaics, label_table=table)


def test_a_table_without_the_columns_is_refused(mosaics: Path, tmp_path: Path) -> None:
    table = tmp_path / "cols.csv"
    table.write_text("file,tags\nx.png,Bag\n", encoding="utf-8")
    with pytest.raises(LabelTableError, match="image and labels"):
        plan_folder(mosaics, label_table=table)
