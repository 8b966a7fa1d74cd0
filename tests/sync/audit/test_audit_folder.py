"""`winnow audit DIR --out OUT` on real photos with planted problems."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image, ImageFilter
from skimage import data
from typer.testing import CliRunner

from winnow.cli.app import build_app


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("audit")
    for split, cls in [("train", "cat"), ("train", "food"), ("val", "food"), ("val", "space")]:
        (root / split / cls).mkdir(parents=True)
    Image.fromarray(data.chelsea()).save(root / "train/cat/chelsea.jpg", quality=92)
    shutil.copy(root / "train/cat/chelsea.jpg", root / "train/cat/chelsea_copy.jpg")
    coffee = Image.fromarray(data.coffee())
    coffee.save(root / "train/food/coffee.jpg", quality=92)
    coffee.save(root / "val/food/coffee_q40.jpg", quality=40)  # near copy across splits
    coffee.filter(ImageFilter.GaussianBlur(5)).save(root / "train/food/coffee_blur.jpg")
    Image.fromarray(data.rocket()).save(root / "val/space/rocket.png")
    shutil.move(root / "val/space/rocket.png", root / "val/space/rocket.jpg")  # PNG named .jpg
    data_bytes = (root / "train/cat/chelsea.jpg").read_bytes()
    (root / "train/cat/broken.jpg").write_bytes(data_bytes[: len(data_bytes) // 2])
    return root


@pytest.mark.slow
def test_audit_writes_findings_with_evidence(
    planted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINNOW_DATA_DIR", str(tmp_path / "store"))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        build_app(), ["audit", str(planted), "--out", str(out), "--layout", "split-class"]
    )
    assert result.exit_code == 0, result.output
    issues = pd.read_csv(out / "issues.csv")
    assert list(issues.columns) == [
        "path",
        "issue_type",
        "score",
        "group",
        "given_label",
        "suggested_label",
        "details",
    ]
    found = {(Path(p).name, t) for p, t in zip(issues["path"], issues["issue_type"], strict=True)}
    assert ("broken.jpg", "unreadable") in found
    assert ("chelsea_copy.jpg", "exact_duplicate") in found
    assert ("rocket.jpg", "wrong_extension") in found
    assert ("coffee_blur.jpg", "blurry") in found
    assert {("coffee.jpg", "split_leak"), ("coffee_q40.jpg", "split_leak")} <= found
    assert not {("chelsea.jpg", t) for t in ("blurry", "unreadable", "exact_duplicate")} & found
    unreadable = issues[issues["issue_type"] == "unreadable"].iloc[0]
    assert "truncated" in unreadable["details"]
    images = pd.read_parquet(out / "images.parquet")
    assert len(images) == 7
    assert {"blurry_score", "dup_group", "sha256", "split"} <= set(images.columns)
    assert "Audit findings" in result.output
