from pathlib import Path

import numpy as np
import pytest

from winnow.errors import StoreError
from winnow.features.measure import ImageMeasurements
from winnow.store import FeatureStore, ImageRecord, SourceRecord


def _measurements(phash: int = -5) -> ImageMeasurements:
    return ImageMeasurements(
        phash, 7, 0.5, 0.2, 0.01, 0.02, 6.5, 120.0, False, 0.4, 0.5, 0.6, 0.1, 0.2, 0.3
    )


def test_round_trip_images_sources_embeddings(tmp_path: Path) -> None:
    with FeatureStore(tmp_path / "f.sqlite") as store:
        store.put_images(
            [
                ImageRecord(
                    "a" * 64,
                    10,
                    "JPEG",
                    4,
                    3,
                    "RGB",
                    False,
                    None,
                    False,
                    1,
                    measurements=_measurements(),
                ),
                ImageRecord("b" * 64, 0, error_kind="zero_byte", error="zero-byte file"),
            ]
        )
        store.put_sources([SourceRecord("/x/a.jpg", "a" * 64, 10, 123, "cat", "train")])
        vecs = np.random.default_rng(0).normal(size=(1, 8)).astype(np.float32)
        store.put_embeddings("m1", ["a" * 64], vecs)

        images = store.images_frame().set_index("sha256")
        assert images.loc["a" * 64, "phash"] == -5  # negative int64 survives
        assert images.loc["b" * 64, "error_kind"] == "zero_byte"
        shas, got = store.embeddings("m1")
        assert shas == ["a" * 64]
        np.testing.assert_array_equal(got, vecs)
        assert store.embeddings("m2") == ([], pytest.approx(np.zeros((0, 0))))
        assert store.sources_by_uri(["/x/a.jpg"])["/x/a.jpg"].label == "cat"
        # undecodable content is complete for any model; measured content needs the embedding
        assert store.complete(["a" * 64, "b" * 64], "m1") == {"a" * 64, "b" * 64}
        assert store.complete(["a" * 64, "b" * 64], "m2") == {"b" * 64}
        assert store.counts() == {"images": 1, "undecodable": 1, "sources": 1, "embeddings": 1}


def test_embeddings_follow_requested_order(tmp_path: Path) -> None:
    with FeatureStore(tmp_path / "f.sqlite") as store:
        vecs = np.eye(3, dtype=np.float32)
        store.put_embeddings("m", ["s1", "s2", "s3"], vecs)
        shas, got = store.embeddings("m", ["s3", "missing", "s1"])
        assert shas == ["s3", "s1"]
        np.testing.assert_array_equal(got, vecs[[2, 0]])


def test_shape_mismatch_is_a_value_error(tmp_path: Path) -> None:
    with FeatureStore(tmp_path / "f.sqlite") as store, pytest.raises(ValueError, match="shas"):
        store.put_embeddings("m", ["s1"], np.zeros((2, 3), dtype=np.float32))


def test_incompatible_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.sqlite"
    FeatureStore(path).close()
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    with pytest.raises(StoreError, match="schema version 999"):
        FeatureStore(path)
