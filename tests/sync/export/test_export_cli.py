"""`winnow export --dir` on real crops with planted problems, then `--verify`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from winnow.cli.app import build_app

APP = build_app()


@pytest.mark.slow
def test_export_dir_then_verify(
    crops_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINNOW_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "set"
    shutil.copytree(crops_dir, folder)
    shutil.copy(folder / "coffee/coffee_0.jpg", folder / "coffee/coffee_copy.jpg")
    data = (folder / "rocket/rocket_0.jpg").read_bytes()
    (folder / "rocket/broken.jpg").write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(
        APP,
        [
            "export",
            "--dir",
            str(folder),
            "--out",
            str(out),
            "--no-embed",
            "--format",
            "folders,webdataset",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "published" in result.output and "DATASET_CARD.md" in result.output
    excluded = pd.read_csv(out / "v1.0/exclusions.csv").set_index("image")["reason"]
    assert excluded[str(folder / "rocket/broken.jpg")] == "unreadable"
    copies = [str(folder / "coffee/coffee_0.jpg"), str(folder / "coffee/coffee_copy.jpg")]
    assert excluded.get(copies[0], excluded.get(copies[1])) == "exact_duplicate"
    manifest = pd.read_parquet(out / "v1.0/manifest.parquet")
    assert len(manifest) == 40 and manifest["sha256"].is_unique
    card = (out / "v1.0/DATASET_CARD.md").read_text()
    assert f"winnow export --dir {folder}" in card

    ok = runner.invoke(APP, ["export", "--verify", str(out)])
    assert ok.exit_code == 0 and "ok" in ok.output
    next(out.glob("v1.0/train/*/*.jpg")).write_bytes(b"tampered")
    bad = runner.invoke(APP, ["export", "--verify", str(out / "v1.0")])
    assert bad.exit_code == 1 and "problems" in bad.output


def test_needs_one_source_and_an_out(tmp_path: Path) -> None:
    result = CliRunner().invoke(APP, ["export", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "exactly one of --project or --dir" in result.output
