"""The duplicate check's pixel work is cached by content: the keeper's signals and the
candidate pairs' raw matches, so a repeated audit reads no pixels for them."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

import sync.audit.pixels as pixels_module
from analysis.duplicates_verify import PairMatch
from analysis.geometric import MATCH_VERSION, local_features, match_features
from analysis.resolution import SIGNAL_VERSION, resolution_signal
from sync.audit.folder import audit_folder
from sync.audit.pixels import KEEPER_KIND, SourcePixels
from winnow.config import Settings
from winnow.imageio import decode_image
from winnow.store import FeatureStore
from winnow.store.measures import MeasureCache


@pytest.fixture
def copies(tmp_path: Path) -> Path:
    """Three copies of one photo: the original, an upscaled copy and a low-quality re-save."""
    folder = tmp_path / "photos"
    folder.mkdir()
    coffee = Image.fromarray(data.coffee())
    coffee.save(folder / "coffee.jpg", quality=92)
    small = coffee.resize((coffee.width // 2, coffee.height // 2), Image.Resampling.LANCZOS)
    small.resize(coffee.size, Image.Resampling.BICUBIC).save(folder / "upscaled.jpg", quality=92)
    coffee.save(folder / "coffee_q40.jpg", quality=40)
    return folder


def _shas(settings: Settings) -> dict[str, str]:
    with FeatureStore(settings.store_path, readonly=True) as store:
        frame = store.sources_frame()
    return {Path(u).name: s for u, s in zip(frame["uri"], frame["sha256"], strict=True)}


def test_audit_caches_signals_and_a_repeat_reads_them_instead_of_pixels(
    copies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "store")
    _, _, first = audit_folder(copies, settings, embed=False)
    near = first.issues[first.issues["issue_type"] == "near_duplicate"]
    assert len(near) == 2  # one cluster of three: two copies flagged, the original kept
    assert all("keep " + str(copies / "coffee.jpg") in d for d in near["details"])

    shas = _shas(settings)
    with MeasureCache(settings.store_path) as cache:
        stored = cache.get(KEEPER_KIND, SIGNAL_VERSION, list(shas.values()))
    assert set(stored) == set(shas.values())
    raw = (copies / "upscaled.jpg").read_bytes()
    gray = decode_image(raw, "upscaled.jpg", max_pixels=10**8, gray=True).image  # luma plane
    with Image.open(copies / "upscaled.jpg") as image:
        direct = resolution_signal(np.asarray(gray), image.quantization)
    assert stored[shas["upscaled.jpg"]] == direct.__dict__
    assert direct.upscale >= 1.75

    # Without the files the signals still come back, so they are read from the cache ...
    moved = shutil.move(copies, tmp_path / "elsewhere")
    fresh = SourcePixels(settings, size=320, trusted_roots=(copies,))
    assert fresh.resolution(shas["upscaled.jpg"]) == direct
    assert fresh(shas["upscaled.jpg"]) is None  # ... while the pixels cannot be read
    # ... and under another version of the measurement they are measured again (and fail).
    monkeypatch.setattr(pixels_module, "SIGNAL_VERSION", "another")
    other = SourcePixels(settings, size=320, trusted_roots=(copies,))
    assert other.resolution(shas["upscaled.jpg"]) is None
    monkeypatch.undo()

    shutil.move(moved, copies)
    _, _, second = audit_folder(copies, settings, embed=False)
    assert second.issues.equals(first.issues)


def test_a_store_that_cannot_be_written_costs_a_remeasure_not_the_result(
    copies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "store")
    audit_folder(copies, settings, embed=False, options=None)
    shas = _shas(settings)

    def refuse(*args: object, **kwargs: object) -> None:
        raise pixels_module.StoreError("disk full")

    monkeypatch.setattr(MeasureCache, "put", refuse)
    monkeypatch.setattr(pixels_module, "SIGNAL_VERSION", "another")
    pixels = SourcePixels(settings, size=320, trusted_roots=(copies,))
    signal = pixels.resolution(shas["coffee.jpg"])
    pixels.flush()  # logs and returns
    assert signal is not None and signal.upscale == 1.0
    monkeypatch.undo()
    with MeasureCache(settings.store_path) as cache:
        assert cache.get(KEEPER_KIND, "another", list(shas.values())) == {}


def test_pair_matches_round_trip_exactly_and_are_keyed_by_working_size(
    copies: Path, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "store")
    audit_folder(copies, settings, embed=False)  # the store now knows the files
    shas = _shas(settings)
    a, b = shas["coffee.jpg"], shas["coffee_q40.jpg"]
    pixels = SourcePixels(settings, size=320, trusted_roots=(copies,))
    fa, fb = local_features(pixels(a)), local_features(pixels(b))
    match = match_features(fa, fb)
    assert match.homography is not None and match.inliers >= 20
    version = f"{MATCH_VERSION}/min_inliers=20"
    pixels.save(version, {(a, b): PairMatch(match, (fa.shape, fb.shape))})

    got = SourcePixels(settings, size=320).load(version, [(a, b), (b, a)])
    assert list(got) == [(a, b)]  # a pair is directed: (b, a) is another match
    back = got[(a, b)]
    assert (back.match.inliers, back.match.matches) == (match.inliers, match.matches)
    assert back.match.mirrored == match.mirrored
    assert back.match.homography.tobytes() == match.homography.tobytes()  # bit for bit
    assert back.shapes == (fa.shape, fb.shape)
    assert SourcePixels(settings, size=256).load(version, [(a, b)]) == {}
    assert SourcePixels(settings, size=320).load("orb0/min_inliers=20", [(a, b)]) == {}
