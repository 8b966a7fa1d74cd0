"""A multi-label export of the mosaic test bed: label sets in the manifest, a card section
on label sets, and splits stratified per label."""

import hashlib
import re

import pandas as pd
import pytest

from analysis.splits import label_prevalence_deviation
from sync.export.job import export_dataset
from sync.export.plan import ExportOptions
from winnow.mosaics import build_mosaics


@pytest.fixture(scope="module")
def mosaic_records(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("mosaics")
    build_mosaics(root, n=160)
    table = pd.read_csv(root / "labels.csv")
    paths = [root / p for p in table["image"]]
    return pd.DataFrame(
        {
            "task_id": range(1, len(table) + 1),
            "image": [str(p) for p in paths],
            "sha256": [hashlib.sha256(p.read_bytes()).hexdigest() for p in paths],
            "labels": [s.split("|") for s in table["labels"]],
            "licence": "MIT",
            "source": "Fashion-MNIST mosaics",
        }
    )


def test_multilabel_export_carries_label_sets(mosaic_records, tmp_path, settings, resolve) -> None:
    result = export_dataset(
        mosaic_records,
        str(tmp_path / "out"),
        settings=settings,
        resolve=resolve,
        options=ExportOptions(),
    )
    root = tmp_path / "out" / "v1.0"
    manifest = pd.read_parquet(root / "manifest.parquet")
    assert result.kind == "multi_label"
    by_sha = mosaic_records.drop_duplicates("sha256").set_index("sha256")["labels"]
    assert all(
        sorted(v) == sorted(by_sha[s])
        for s, v in zip(manifest["sha256"], manifest["labels"], strict=True)
    )
    card = (root / "DATASET_CARD.md").read_text()
    section = card.split("## Label sets", 1)[1].split("\n## ", 1)[0]
    mean = manifest["labels"].map(len).mean()
    assert f"{mean:.2f} per image on average" in section
    assert (
        f"{manifest['labels'].map(lambda x: ' + '.join(sorted(x))).nunique()} distinct sets"
        in section
    )
    gaps = label_prevalence_deviation(manifest["split"], manifest["labels"].map(list)).abs()
    shown = float(re.search(r"whole set is ([0-9.]+) \(", section).group(1))
    assert shown == pytest.approx(gaps.max().max(), abs=5e-4)
    assert gaps.max().max() < 0.1  # per-label stratified, 200 images over 80/10/10
