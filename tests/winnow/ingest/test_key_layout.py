"""Layouts read from S3-style keys follow the same rules as the local folder walk."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from winnow.features.walk import scan_folder
from winnow.ingest.layout import detect_key_layout, is_image_key, labels_from_keys


def test_class_split_and_flat_layouts() -> None:
    keys = ["cat/a.jpg", "cat/sub/b.png", "dog/c.jpg", "d.jpg"]
    assert labels_from_keys(keys) == (
        "class",
        [("cat", None), ("cat", None), ("dog", None), (None, None)],
    )
    split = ["train/cat/a.jpg", "Validation/dog/b.jpg", "test/c.jpg"]
    assert labels_from_keys(split) == (
        "split/class",
        [("cat", "train"), ("dog", "val"), (None, "test")],
    )
    assert labels_from_keys(["a.jpg", "b.jpg"]) == ("flat", [(None, None), (None, None)])
    assert labels_from_keys(["cat/a.jpg"], layout="flat") == ("flat", [(None, None)])


def test_image_keys_are_chosen_by_extension() -> None:
    assert is_image_key("x/Photo.JPEG") and is_image_key("a.webp")
    assert not is_image_key("x/notes.txt") and not is_image_key("x/.hidden.jpg")
    assert not is_image_key("x/")


names = st.text(alphabet="abcdefgh", min_size=1, max_size=4)
split_names = st.sampled_from(["train", "val", "test", "cats", "dogs"])


@given(
    st.lists(
        st.tuples(split_names, st.one_of(st.none(), names), names),
        min_size=1,
        max_size=8,
        unique_by=lambda t: (t[0], t[1], t[2]),
    )
)
def test_same_answer_as_the_folder_walk(tmp_path_factory, entries) -> None:
    root = tmp_path_factory.mktemp("tree")
    keys = []
    for top, middle, name in entries:
        rel = Path(top, *(x for x in [middle] if x), name + ".jpg")
        if any(Path(k) == rel for k in keys) or any(Path(k) in rel.parents for k in keys):
            continue
        keys.append(rel.as_posix())
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    scan = scan_folder(root)
    by_key = {Path(item.uri).relative_to(root.resolve()).as_posix(): item for item in scan.items}
    layout, pairs = labels_from_keys(sorted(by_key))
    assert layout == scan.layout == detect_key_layout(sorted(by_key))
    assert pairs == [(by_key[k].label, by_key[k].split) for k in sorted(by_key)]
