"""`winnow export --project` end to end: a real Label Studio project (imported from real
photos, with provenance) pulled into the project frame and exported with its card."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sync.importing.job import ImportOptions, run_import
from winnow.cli.app import build_app
from winnow.config import ImageIOSettings, LabelStudioSettings, get_settings
from winnow.services import LabelStudio

pytestmark = pytest.mark.integration
CLASSES = {
    "cat": ["chelsea.png", "chelsea.webp", "chelsea_palette.gif"],
    "food": ["coffee.jpg", "coffee.tif"],
    "person": ["astronaut.bmp", "astronaut_gray.png", "astronaut_gray.jpg"],
}


def test_export_a_label_studio_project(
    tmp_path: Path,
    label_studio: LabelStudio,
    ls_settings: LabelStudioSettings,
    ls_files_root: Path,
    real_images_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = ls_files_root / f"export-{uuid.uuid4().hex[:6]}"
    for label, names in CLASSES.items():
        (root / label).mkdir(parents=True)
        for name in names:
            shutil.copy(real_images_dir / name, root / label / name)
    env = {
        "WINNOW_DATA_DIR": str(tmp_path / "data"),
        "WINNOW_LABEL_STUDIO__URL": label_studio.url,
        "WINNOW_LABEL_STUDIO__API_KEY": label_studio.api_key,
        "WINNOW_IO__ALLOWED_HOSTS": '["127.0.0.1"]',
        "WINNOW_FEATURES__WORKERS": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = get_settings(
        label_studio=ls_settings,
        io=ImageIOSettings(allowed_hosts=["127.0.0.1"]),
    )
    summary = run_import(
        ImportOptions(str(root), f"export {uuid.uuid4().hex[:6]}", licence="CC0-1.0"),
        settings=settings,
    )
    assert summary.imported == 8
    out = tmp_path / "out"
    result = CliRunner().invoke(
        build_app(), ["export", "--project", str(summary.project_id), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    manifest = pd.read_parquet(out / "v1.0/manifest.parquet")
    # chelsea.png/webp/gif decode to near-identical pixels: one near-duplicate group
    assert len(manifest) >= 7 and set(manifest["licence"]) == {"CC0-1.0"}
    names = {
        Path(s).name: label for s, label in zip(manifest["source"], manifest["label"], strict=True)
    }
    assert all(
        label == next(k for k, v in CLASSES.items() if name in v) for name, label in names.items()
    )
    groups = manifest.groupby("group")["split"].nunique()
    assert (groups == 1).all()
    card = (out / "v1.0/DATASET_CARD.md").read_text()
    assert f"winnow export --project {summary.project_id} --out {out}" in card
    assert "| local files | CC0-1.0 |" in card
    assert json.loads((out / "v1.0/_MANIFEST.json").read_text())["images"] == len(manifest)
    ok = CliRunner().invoke(build_app(), ["export", "--verify", str(out)])
    assert ok.exit_code == 0, ok.output
