"""Data-report numbers against direct computations on real images."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data

from analysis.report import eda, picks
from analysis.report.html import thumbnail_data_uri
from winnow.features.measure import measure_image


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    """Four real photos cropped to the same size, so pooling over images equals pooling
    over pixels."""
    images = (data.astronaut(), data.chelsea(), data.coffee(), data.rocket())
    return [np.asarray(Image.fromarray(img).convert("RGB"))[:128, :128] for img in images]


def _files(photos: list[np.ndarray]) -> pd.DataFrame:
    rows = []
    for i, img in enumerate(photos):
        m = measure_image(Image.fromarray(img)).as_dict()
        rows.append(
            {
                "uri": f"/d/{i}.png",
                "sha256": f"s{i}",
                "label": "ab"[i % 2],
                "split": ["train", "train", "test", "test"][i],
                "error_kind": None,
                "width": 128,
                "height": 128,
                "format": "PNG",
                "mode": "RGB",
                "has_exif": 0,
                "exif_orientation": None,
                "dup_group": f"dup-{i}",
                **m,
            }
        )
    return pd.DataFrame(rows)


def test_channel_stats_equal_pixel_statistics(photos) -> None:
    stats = eda.channel_stats(_files(photos))
    for split, members in (("train", photos[:2]), ("test", photos[2:])):
        pixels = np.concatenate([p.reshape(-1, 3) for p in members]).astype(float) / 255
        np.testing.assert_allclose(
            stats.loc[split, ["mean_r", "mean_g", "mean_b"]], pixels.mean(axis=0), atol=1e-5
        )
        np.testing.assert_allclose(
            stats.loc[split, ["std_r", "std_g", "std_b"]], pixels.std(axis=0), atol=1e-4
        )


def test_composition_and_balance(photos) -> None:
    files = _files(photos)
    files.loc[4] = files.loc[0].copy()
    files.loc[4, ["uri", "error_kind", "split", "label"]] = ["/d/x.png", "corrupt", None, "a"]
    comp = eda.composition(files)
    assert list(comp.counts.columns) == ["train", "test", eda.NO_SPLIT, "total"]
    assert comp.counts.loc["a", "total"] == 3 and comp.counts.loc["b", "total"] == 2
    assert comp.imbalance["total"] == 1.5
    assert eda.split_balance(files[files["split"].notna()])["train"] == 0.0


def test_duplicate_matrix_counts_pairs_across_splits(photos) -> None:
    files = _files(photos)
    files["dup_group"] = ["dup-0", "dup-0", "dup-0", "dup-9"]  # train, train, test
    matrix = eda.duplicate_split_matrix(files)
    assert matrix.loc["train", "train"] == 1
    assert matrix.loc["train", "test"] == matrix.loc["test", "train"] == 2
    assert matrix.loc["test", "test"] == 0
    assert [list(c) for c in eda.duplicate_clusters(files)] == [[0, 1, 2]]


def test_extremes_pick_the_darkest_and_brightest(photos) -> None:
    files = _files(photos)
    found = picks.extremes(files, pd.DataFrame(columns=["path", "issue_type", "score"]), k=1)
    assert found["darkest"][0][0] == int(files["brightness"].idxmin())
    assert found["brightest"][0][0] == int(files["brightness"].idxmax())
    assert found["blurriest"][0][0] == int(files["blur"].idxmin())


def test_fingerprint_changes_with_a_label(photos) -> None:
    files = _files(photos)
    other = files.assign(label=["a", "a", "a", "b"])
    assert eda.dataset_fingerprint(files) != eda.dataset_fingerprint(other)
    assert eda.dataset_fingerprint(files) == eda.dataset_fingerprint(files.iloc[::-1])


def test_thumbnail_is_a_small_jpeg(photos) -> None:
    uri = thumbnail_data_uri(Image.fromarray(data.astronaut()), side=64)
    assert uri.startswith("data:image/jpeg;base64,") and len(uri) < 6000
