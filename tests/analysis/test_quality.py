"""Quality checks on crafted real cases: a sharp photo against its blurred, darkened,
overexposed, flattened, resized and rotated copies."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageEnhance, ImageFilter
from skimage import data

from analysis.quality import CHECKS, quality_scores
from winnow.features.measure import make_thumbnail, measure_image

PHOTOS = ["coffee", "chelsea", "astronaut", "rocket", "coins", "camera"]


def _row(image: Image.Image, **extra: object) -> dict:
    m = measure_image(make_thumbnail(image.convert("RGB"), 256)).as_dict()
    row = {
        **m,
        "width": image.width,
        "height": image.height,
        "has_alpha": False,
        "exif_orientation": 1,
    }
    row.update(extra)
    return row


@pytest.fixture(scope="module")
def photos() -> dict[str, Image.Image]:
    return {name: Image.fromarray(getattr(data, name)()).convert("RGB") for name in PHOTOS}


def _flags(rows: list[dict]) -> pd.DataFrame:
    return quality_scores(pd.DataFrame(rows))


def test_clean_real_photos_raise_no_quality_flag(photos: dict[str, Image.Image]) -> None:
    rows = [_row(p) for p in photos.values() if p.mode == "RGB"]
    flags = _flags(rows)
    photo_checks = ["blurry", "dark", "bright", "low_information", "odd_size", "exif_rotated"]
    assert not flags[photo_checks].to_numpy().any(), flags[photo_checks]


@pytest.mark.parametrize(
    ("transform", "check"),
    [
        (lambda im: im.filter(ImageFilter.GaussianBlur(4)), "blurry"),
        (lambda im: ImageEnhance.Brightness(im).enhance(0.15), "dark"),
        (lambda im: ImageEnhance.Brightness(im).enhance(4.0), "bright"),
        (lambda im: Image.fromarray(data.horse()).convert("RGB"), "low_information"),
        (lambda im: im.resize((24, 24)), "odd_size"),
        (lambda im: im.resize((im.width * 4, im.height // 2)), "odd_aspect_ratio"),
        (lambda im: im.convert("L").convert("RGB"), "grayscale"),
    ],
)
def test_each_degradation_is_flagged_by_its_check_only_on_the_copy(
    photos: dict[str, Image.Image], transform, check: str
) -> None:
    clean = [_row(p) for p in photos.values()]
    bad = _row(transform(photos["coffee"]))
    flags = _flags([*clean, bad])
    assert flags[check].iloc[-1], flags.iloc[-1]
    if check != "grayscale":  # camera is itself grayscale
        assert not flags[check].iloc[:-1].any()
    assert flags[f"{check}_score"].iloc[-1] > flags[f"{check}_score"].iloc[0]


def test_alpha_and_exif_are_flagged_when_unexpected(photos: dict[str, Image.Image]) -> None:
    rows = [_row(p) for p in photos.values()]
    rows.append(_row(photos["coffee"], has_alpha=True, exif_orientation=6))
    flags = _flags(rows)
    assert flags["alpha"].tolist() == [False] * len(photos) + [True]
    assert flags["exif_rotated"].tolist() == [False] * len(photos) + [True]
    # when most images have alpha (cut-outs), alpha is not unexpected
    mostly_alpha = [dict(r, has_alpha=True) for r in rows]
    assert not _flags(mostly_alpha)["alpha"].any()


def test_exposure_checks_skip_cutouts_composited_on_white(photos: dict[str, Image.Image]) -> None:
    white = Image.new("RGB", (400, 300), "white")
    white.paste(photos["coffee"].resize((100, 80)), (150, 110))
    plain = _flags([_row(p) for p in photos.values()] + [_row(white)])
    cutout = _flags([_row(p) for p in photos.values()] + [_row(white, has_alpha=True)])
    assert plain["bright"].iloc[-1]
    assert not cutout["bright"].iloc[-1] and not cutout["low_information"].iloc[-1]


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 5000),
            st.floats(0, 1),
            st.floats(0, 8),
            st.integers(1, 5000),
            st.integers(1, 5000),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_scores_are_in_unit_interval_and_flags_match_scores(rows) -> None:
    frame = pd.DataFrame(
        [
            {
                "blur": b,
                "brightness": br,
                "entropy": e,
                "width": w,
                "height": h,
                "dark_fraction": br / 2,
                "bright_fraction": 1 - br,
                "is_grayscale": False,
                "has_alpha": False,
                "exif_orientation": None,
            }
            for b, br, e, w, h in rows
        ]
    )
    out = quality_scores(frame)
    for check in CHECKS:
        scores = out[f"{check}_score"].to_numpy()
        assert np.all((scores >= 0) & (scores <= 1))
        assert (out[check].to_numpy() == (scores > 0.5)).all()


def test_missing_column_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="blur"):
        quality_scores(pd.DataFrame({"brightness": [0.5]}))


def test_a_set_of_tiny_images_is_not_odd_size_but_one_tiny_image_is(
    photos: dict[str, Image.Image],
) -> None:
    """Fashion-MNIST-like sets (every image 28 px) are small by design; one 24-px image
    among photos is odd."""
    tiny = [_row(p.resize((28, 28))) for p in photos.values()]
    assert not _flags(tiny)["odd_size"].any()
    mixed = [_row(p) for p in photos.values()] + [_row(photos["coffee"].resize((24, 24)))]
    assert _flags(mixed)["odd_size"].tolist() == [False] * len(photos) + [True]


def test_exposure_most_of_the_set_shares_is_not_flagged(photos: dict[str, Image.Image]) -> None:
    """Items on black (like Fashion-MNIST) are the data's look; one dark copy among normal
    photos is still flagged."""
    darkened = [_row(ImageEnhance.Brightness(p).enhance(0.15)) for p in photos.values()]
    assert not _flags(darkened)["dark"].any()
    mixed = [_row(p) for p in photos.values()] + darkened[:1]
    assert _flags(mixed)["dark"].tolist() == [False] * len(photos) + [True]
