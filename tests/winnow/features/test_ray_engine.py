"""`--engine ray` on a local Ray (2 CPUs, half a CPU per embedding actor): real photos and
bad files from disk and from a real S3 server (SeaweedFS) give a feature store identical
to the single-process path's, and a re-run is all cache hits without touching Ray."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from winnow.cli.app import build_app
from winnow.config import Settings, get_settings
from winnow.features.extract import extract_features
from winnow.features.ray_engine import RayOptions, extract_features_ray
from winnow.features.walk import SourceItem, scan_folder
from winnow.models import make_embedder
from winnow.samples import build_edge_cases
from winnow.services import SeaweedFS
from winnow.store import FeatureStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def sources(tmp_path_factory, real_images_dir: Path, seaweedfs: SeaweedFS) -> list[SourceItem]:
    """About 20 real photos and bad files: on disk (class folders) and in an S3 bucket."""
    root = tmp_path_factory.mktemp("ray-images")
    shutil.copytree(real_images_dir, root / "photos")
    shutil.copy(real_images_dir / "coffee.jpg", root / "photos" / "coffee_copy.jpg")
    build_edge_cases(root / "edge")
    items = scan_folder(root).items
    bucket = seaweedfs.create_bucket(f"ray-{uuid.uuid4().hex[:8]}")
    client = seaweedfs.client()
    for name in ("chelsea.png", "astronaut.bmp"):
        client.put_object(
            Bucket=bucket, Key=f"in/{name}", Body=(real_images_dir / name).read_bytes()
        )
    client.put_object(Bucket=bucket, Key="in/broken.jpg", Body=b"\xff\xd8\xff\xe0 not a JPEG")
    s3 = [
        SourceItem(f"s3://{bucket}/in/{n}", "s3")
        for n in ("chelsea.png", "astronaut.bmp", "broken.jpg", "missing.jpg")
    ]
    return items + s3


def settings_for(path: Path, seaweedfs: SeaweedFS) -> Settings:
    s3 = {
        "endpoint_url": seaweedfs.endpoint_url,
        "access_key_id": SecretStr(seaweedfs.access_key),
        "secret_access_key": SecretStr(seaweedfs.secret_key),
    }
    return get_settings(data_dir=path, s3=s3, features={"workers": 0})


def frames(store: FeatureStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    images = store.images_frame().drop(columns="computed_at").sort_values("sha256")
    sources = store.sources_frame().drop(columns="seen_at").sort_values("uri")
    return images.reset_index(drop=True), sources.reset_index(drop=True)


def test_ray_fills_the_same_store_as_the_local_path(local_ray, sources, seaweedfs, tmp_path):
    assert 18 <= len(sources) <= 30
    # the scanned folders are the operator's: trusted, as `winnow features DIR` trusts them
    folders = sorted({Path(i.uri).parent for i in sources if not i.uri.startswith("s3://")})
    local_settings = settings_for(tmp_path / "local", seaweedfs)
    embedder = make_embedder(local_settings.embedding)
    with FeatureStore(local_settings.store_path) as store:
        local = extract_features(
            sources,
            settings=local_settings,
            store=store,
            embedder=embedder,
            trusted_roots=folders,
        )
        local_images, local_sources = frames(store)
        local_vectors = store.embeddings(embedder.model_id)

    ray_settings = settings_for(tmp_path / "ray", seaweedfs)
    options = RayOptions(actor_cpus=0.5, decode_batch=4, embed_batch=8)
    with FeatureStore(ray_settings.store_path) as store:
        first = extract_features_ray(
            sources,
            settings=ray_settings,
            store=store,
            embedder=embedder,
            options=options,
            trusted_roots=folders,
        )
        ray_images, ray_sources = frames(store)
        ray_vectors = store.embeddings(embedder.model_id)
        readable = [item for item in sources if not item.uri.endswith("missing.jpg")]
        again = extract_features_ray(
            readable,
            settings=ray_settings,
            store=store,
            embedder=embedder,
            options=options,
            trusted_roots=folders,
        )

    assert local.failed >= 6 and local.embedded >= 10  # the set is not trivial
    counts = ("computed", "embedded", "failed", "errors")
    assert [getattr(first, c) for c in counts] == [getattr(local, c) for c in counts]
    pd.testing.assert_frame_equal(ray_images, local_images)
    pd.testing.assert_frame_equal(ray_sources, local_sources)
    assert ray_vectors[0] == local_vectors[0]
    np.testing.assert_allclose(ray_vectors[1], local_vectors[1], atol=1e-5)
    s3_kinds = {uri.rsplit("/", 1)[1]: kind for uri, kind, _ in first.failures if "s3://" in uri}
    assert s3_kinds.keys() == {"broken.jpg", "missing.jpg"}
    # a re-run has nothing to do (a missing key, never cached, would be tried again)
    assert (again.cache_hits, again.computed, again.embedded) == (len(readable), 0, 0)
    assert again.failed == first.failed - 1


def test_cli_engine_ray(local_ray, real_images_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WINNOW_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(
        build_app(), ["features", str(real_images_dir), "--engine", "ray", "--no-embed"]
    )
    assert result.exit_code == 0, result.output
    with FeatureStore(tmp_path / "data" / "features.sqlite") as store:
        assert store.counts()["images"] == len(list(real_images_dir.iterdir()))
    wrong = CliRunner().invoke(build_app(), ["features", str(real_images_dir), "--engine", "x"])
    assert wrong.exit_code == 2
