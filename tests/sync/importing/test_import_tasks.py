"""Task payloads: imported labels become annotations (not predictions, not ground truth),
with provenance and flags in flat task data fields."""

from __future__ import annotations

from sync.importing.provenance import LABEL_CONFLICT, NO_LICENCE, Candidate, Provenance
from sync.importing.tasks import build_task
from winnow.labelstudio.label_config import build_label_config, find_label_control

CHOICES = find_label_control(build_label_config(["cat", "dog"]))
BOXES = find_label_control(build_label_config(["cat", "dog"], task="detection"), task="detection")
HAND_MADE = find_label_control(
    '<View><Image name="photo" value="$img"/>'
    '<Choices name="species" toName="photo"><Choice value="cat"/></Choices></View>'
)


def _candidate(**kw) -> Candidate:
    provenance = Provenance("folder", "/data/pets/train/cat/a.jpg")
    return Candidate(provenance, "/data/pets/train/cat/a.jpg", labels=("cat",), split="train", **kw)


def test_folder_label_becomes_an_imported_annotation() -> None:
    task = build_task(
        _candidate(),
        image_ref="/data/local-files/?d=pets/train/cat/a.jpg",
        sha256="ab" * 32,
        control=CHOICES,
        imported_at="T",
    )

    assert task["data"] == {
        "image": "/data/local-files/?d=pets/train/cat/a.jpg",
        "split": "train",
        "winnow_sha256": "ab" * 32,
        "winnow_source": "/data/pets/train/cat/a.jpg",
        "winnow_source_kind": "folder",
        "winnow_source_label": "cat",
        "winnow_flags": [NO_LICENCE],
    }
    (annotation,) = task["annotations"]
    assert annotation["ground_truth"] is False
    assert annotation["result"] == [
        {"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": ["cat"]}}
    ]
    assert "predictions" not in task
    assert task["meta"]["winnow"] == {
        "imported_from": "folder",
        "imported_at": "T",
        "labels_from": "folder",
    }


def test_url_provenance_licence_and_extra_flags() -> None:
    provenance = Provenance(
        "url_list",
        "https://a.org/x.jpg",
        url="https://a.org/x.jpg",
        source_page="https://a.org/",
        licence="CC-BY-4.0",
        author="Ann",
        date="2020-01-02",
        retrieved_at=0.0 + 86400,
    )
    candidate = Candidate(provenance, "/cache/x.jpg", labels=("cat", "dog"))
    task = build_task(
        candidate,
        image_ref="https://a.org/x.jpg",
        sha256="s",
        control=CHOICES,
        imported_at="T",
        flags=[LABEL_CONFLICT],
    )
    data = task["data"]
    assert "split" not in data
    assert data["winnow_licence"] == "CC-BY-4.0" and data["winnow_author"] == "Ann"
    assert data["winnow_source_page"] == "https://a.org/" and data["winnow_date"] == "2020-01-02"
    assert data["winnow_retrieved_at"] == "1970-01-02T00:00:00+00:00"
    assert data["winnow_flags"] == [LABEL_CONFLICT]  # licensed: no no_licence flag
    assert data["winnow_source_label"] == "cat|dog"
    assert task["annotations"][0]["result"][0]["value"] == {"choices": ["cat", "dog"]}


def test_detection_and_unlabelled_images_get_no_annotation() -> None:
    boxes = build_task(_candidate(), image_ref="x", sha256="s", control=BOXES, imported_at="T")
    assert "annotations" not in boxes
    assert boxes["data"]["winnow_source_label"] == "cat"  # kept for reference
    assert boxes["meta"]["winnow"]["labels_from"] is None
    flat = Candidate(Provenance("folder", "/a.jpg"), "/a.jpg")
    assert "annotations" not in build_task(
        flat, image_ref="x", sha256="s", control=CHOICES, imported_at="T"
    )


def test_hand_made_config_decides_the_image_key_and_control_names() -> None:
    task = build_task(_candidate(), image_ref="u", sha256="s", control=HAND_MADE, imported_at="T")
    assert task["data"]["img"] == "u" and "image" not in task["data"]
    result = task["annotations"][0]["result"][0]
    assert (result["from_name"], result["to_name"]) == ("species", "photo")
