"""Each format read back: folders, manifest (Parquet/CSV), WebDataset shards, COCO, YOLO."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sync.export.job import export_dataset
from sync.export.plan import ExportOptions
from winnow.errors import ConfigError


def _export(records, tmp_path, settings, resolve, formats, **kwargs):
    return export_dataset(
        records,
        str(tmp_path / "out"),
        settings=settings,
        resolve=resolve,
        options=ExportOptions(formats=formats),
        **kwargs,
    )


def test_folders_and_manifest(records, tmp_path, settings, resolve) -> None:
    result = _export(records, tmp_path, settings, resolve, ("folders", "manifest"))
    root = tmp_path / "out" / "v1.0"
    manifest = pd.read_parquet(root / "manifest.parquet")
    assert len(manifest) == len(records) == 40
    assert set(manifest.columns) >= {
        "path",
        "sha256",
        "label",
        "split",
        "width",
        "height",
        "source",
        "licence",
        "flags",
    }
    for row in manifest.itertuples():
        split, label, _ = row.path.split("/")
        assert (split, label) == (row.split, row.label)
        assert hashlib.sha256((root / row.path).read_bytes()).hexdigest() == row.sha256
    assert manifest["split"].value_counts().to_dict() == {"train": 32, "val": 4, "test": 4}
    by_sha = records.set_index("sha256")
    assert (manifest["label"] == [by_sha.loc[s, "labels"][0] for s in manifest["sha256"]]).all()
    assert (manifest["width"].to_numpy() == by_sha.loc[manifest["sha256"], "width"]).all()
    csv = pd.read_csv(root / "manifest.csv")
    assert csv["sha256"].tolist() == manifest["sha256"].tolist()
    assert result.url.endswith("v1.0")
    assert result.files + 1 == len(list(root.rglob("*.*")))  # all but _MANIFEST.json


def test_webdataset_shards_respect_the_size(records, tmp_path, settings, resolve) -> None:
    settings = settings.model_copy(
        update={"export": settings.export.model_copy(update={"shard_size_mb": 1})}
    )
    big = records.copy()
    result = _export(big, tmp_path, settings, resolve, ("webdataset",))
    root = tmp_path / "out" / "v1.0"
    assert not (root / "train").exists() and not (root / "images").exists()  # shards only
    shards = sorted((root / "shards").glob("*.tar"))
    seen = {}
    for shard in shards:
        assert shard.stat().st_size <= 1024 * 1024 + 10 * 1024  # the closing blocks
        with tarfile.open(shard) as tar:
            names = tar.getnames()
            for name in names:
                if name.endswith(".json"):
                    meta = json.loads(tar.extractfile(name).read())
                    image = tar.extractfile(name[:-5] + ".jpg").read()
                    assert hashlib.sha256(image).hexdigest() == meta["sha256"]
                    assert shard.name.startswith(meta["split"] + "-")
                    cls = tar.extractfile(name[:-5] + ".cls").read()
                    seen[meta["sha256"]] = (meta["labels"], int(cls))
    assert len(seen) == len(records)
    classes = sorted({label for labels, _ in seen.values() for label in labels})
    assert all(classes[index] == labels[0] for labels, index in seen.values())
    manifest = result.manifest
    assert manifest["path"].isna().all() and manifest["shard"].notna().all()


def test_shards_are_byte_identical_across_runs(records, tmp_path, settings, resolve) -> None:
    _export(records, tmp_path / "a", settings, resolve, ("webdataset",))
    _export(records, tmp_path / "b", settings, resolve, ("webdataset",))
    a = sorted((tmp_path / "a/out/v1.0/shards").glob("*.tar"))
    assert a and all(
        p.read_bytes() == (tmp_path / "b/out/v1.0/shards" / p.name).read_bytes() for p in a
    )


def test_multi_label_manifest_has_label_lists(records, tmp_path, settings, resolve) -> None:
    multi = records.copy()
    multi["labels"] = [
        [label[0], "photo"] if i % 2 else label for i, label in enumerate(multi["labels"])
    ]
    with pytest.raises(ConfigError, match="folders"):
        _export(multi, tmp_path, settings, resolve, ("folders",))
    result = _export(multi, tmp_path, settings, resolve, None)
    manifest = pd.read_parquet(tmp_path / "out/v1.0/manifest.parquet")
    assert result.kind == "multi_label" and "label" not in manifest.columns
    by_sha = multi.set_index("sha256")["labels"]
    assert all(
        list(v) == by_sha[s] for s, v in zip(manifest["sha256"], manifest["labels"], strict=True)
    )
    assert all(p.startswith("images/") for p in manifest["path"])


def _detection(records: pd.DataFrame) -> pd.DataFrame:
    det = records.copy()
    det["boxes"] = [
        [
            {"label": "thing", "x": 10.0, "y": 20.0, "width": 50.0, "height": 25.0},
            {"label": labels[0], "x": 90.0, "y": 90.0, "width": 30.0, "height": 30.0},
        ]
        for labels in det["labels"]
    ]
    return det


def test_coco_and_yolo(records, tmp_path, settings, resolve) -> None:
    det = _detection(records)
    result = _export(det, tmp_path, settings, resolve, None)
    assert result.kind == "detection" and {"coco", "yolo"} <= set(result.formats)
    root = tmp_path / "out" / "v1.0"
    coco = json.loads((root / "annotations" / "train.json").read_text())
    assert {"images", "annotations", "categories"} <= set(coco)
    names = {c["id"]: c["name"] for c in coco["categories"]}
    assert sorted(names.values()) == sorted({"thing", "coffee", "chelsea", "astronaut", "rocket"})
    image = coco["images"][0]
    assert (root / image["file_name"]).is_file()
    boxes = [a for a in coco["annotations"] if a["image_id"] == image["id"]]
    w, h = image["width"], image["height"]
    thing = next(a for a in boxes if names[a["category_id"]] == "thing")
    assert thing["bbox"] == pytest.approx([0.1 * w, 0.2 * h, 0.5 * w, 0.25 * h], abs=0.01)
    clipped = next(a for a in boxes if names[a["category_id"]] != "thing")
    assert clipped["bbox"] == pytest.approx([0.9 * w, 0.9 * h, 0.1 * w, 0.1 * h], abs=0.01)
    data = yaml.safe_load((root / "data.yaml").read_text())
    stem = Path(image["file_name"]).stem
    lines = (root / "labels" / "train" / f"{stem}.txt").read_text().splitlines()
    first = lines[0].split()
    assert data["names"][int(first[0])] == "thing"
    assert [float(v) for v in first[1:]] == pytest.approx([0.35, 0.325, 0.5, 0.25])
    assert [float(v) for v in lines[1].split()[1:]] == pytest.approx([0.95, 0.95, 0.1, 0.1])
    assert data["train"] == "images/train"


def test_labels_cannot_escape_the_export(records, tmp_path, settings, resolve) -> None:
    frame = records.head(12).copy()
    frame["labels"] = [["../evil"], ["a/b"], [".."]] * 4
    _export(frame, tmp_path, settings, resolve, ("folders",))
    root = (tmp_path / "out" / "v1.0").resolve()
    written = [p.resolve() for p in (tmp_path / "out").rglob("*.jpg")]
    assert len(written) == 12 and all(root in p.parents for p in written)
    assert {p.parent.name for p in written} == {".._evil", "a_b", "_.."}
