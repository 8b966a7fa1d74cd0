"""Local files: path-traversal guard, size limit, file URLs and the source dispatch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from winnow.config import ImageIOSettings, LabelStudioSettings
from winnow.errors import BlockedSourceError, FetchError, TooLargeError
from winnow.imageio import ImageReader, safe_local_path


@pytest.fixture
def tree(tmp_path: Path, real_images_dir: Path) -> Path:
    """``root/`` holds a real image and a sub-folder; ``outside/`` holds a secret."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "coffee.jpg").write_bytes((real_images_dir / "coffee.jpg").read_bytes())
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("not for you")
    return root


def test_path_inside_the_root_resolves(tree: Path):
    assert safe_local_path(tree / "sub" / ".." / "coffee.jpg", roots=[tree]) == tree / "coffee.jpg"


@pytest.mark.parametrize(
    "relative", ["../outside/secret.txt", "sub/../../outside/secret.txt", "sub/../.."]
)
def test_dot_dot_escapes_are_blocked(tree: Path, relative: str):
    with pytest.raises(BlockedSourceError, match="outside io.local_roots"):
        safe_local_path(str(tree) + "/" + relative, roots=[tree])


def test_absolute_path_outside_the_roots_is_blocked(tree: Path):
    with pytest.raises(BlockedSourceError):
        safe_local_path("/etc/passwd", roots=[tree])


def test_sibling_folder_sharing_the_root_prefix_is_outside(tree: Path):
    twin = tree.parent / (tree.name + "2")
    twin.mkdir()
    with pytest.raises(BlockedSourceError):
        safe_local_path(twin / "x.jpg", roots=[tree])


def test_symlink_pointing_outside_is_blocked(tree: Path):
    (tree / "sneaky.jpg").symlink_to(tree.parent / "outside" / "secret.txt")
    (tree / "sneaky_dir").symlink_to(tree.parent / "outside")

    with pytest.raises(BlockedSourceError):
        safe_local_path(tree / "sneaky.jpg", roots=[tree])
    with pytest.raises(BlockedSourceError):
        safe_local_path(tree / "sneaky_dir" / "secret.txt", roots=[tree])


def test_symlink_inside_the_root_resolves_to_its_target(tree: Path):
    (tree / "sub" / "alias.jpg").symlink_to(tree / "coffee.jpg")

    assert safe_local_path(tree / "sub" / "alias.jpg", roots=[tree]) == tree / "coffee.jpg"


def test_a_root_given_through_a_symlink_is_resolved_too(tree: Path):
    link = tree.parent / "root_link"
    link.symlink_to(tree)

    assert safe_local_path(link / "coffee.jpg", roots=[link]) == tree / "coffee.jpg"
    assert safe_local_path(tree / "coffee.jpg", roots=[link]) == tree / "coffee.jpg"


def test_any_of_several_roots_admits(tree: Path):
    other = tree.parent / "outside"
    assert safe_local_path(other / "secret.txt", roots=[tree, other]) == other / "secret.txt"


def test_no_roots_means_no_path(tree: Path):
    with pytest.raises(BlockedSourceError, match="outside io.local_roots"):
        safe_local_path(tree / "coffee.jpg", roots=[])


def test_nul_byte_is_blocked(tree: Path):
    with pytest.raises(BlockedSourceError):
        safe_local_path(str(tree / "a\0.jpg"), roots=[tree])


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(st.lists(st.sampled_from(["a", "b", "..", "."]), min_size=1, max_size=8))
def test_result_is_inside_the_root_exactly_when_the_normalised_path_is(tree: Path, parts):
    """Without symlinks, the guard agrees with plain path normalisation."""
    candidate = os.path.join(str(tree), *parts)
    inside = Path(os.path.normpath(candidate)).is_relative_to(tree)
    if inside:
        assert safe_local_path(candidate, roots=[tree]).is_relative_to(tree)
    else:
        with pytest.raises(BlockedSourceError):
            safe_local_path(candidate, roots=[tree])


# -- ImageReader on local sources -------------------------------------------------------


def _reader(*roots: Path, **io) -> ImageReader:
    return ImageReader(ImageIOSettings(local_roots=list(roots), **io))


def test_reader_returns_the_file_bytes_for_str_path_and_file_url(tree: Path):
    expected = (tree / "coffee.jpg").read_bytes()
    with _reader(tree) as reader:
        assert reader.read(str(tree / "coffee.jpg")) == expected
        assert reader.read(tree / "coffee.jpg") == expected
        assert reader.read((tree / "coffee.jpg").as_uri()) == expected
        assert reader.read("file://localhost" + str(tree / "coffee.jpg")) == expected


def test_file_url_is_percent_decoded(tree: Path):
    spaced = tree / "sub" / "a cup of coffee.jpg"
    spaced.write_bytes(b"\xff\xd8\xff bytes")
    with _reader(tree) as reader:
        assert reader.read(spaced.as_uri()) == b"\xff\xd8\xff bytes"
        assert "%20" in spaced.as_uri()


def test_reader_blocks_escapes_and_reports_the_original_source(tree: Path):
    escape = str(tree / ".." / "outside" / "secret.txt")
    with _reader(tree) as reader, pytest.raises(BlockedSourceError) as info:
        reader.read(escape)
    assert info.value.source == escape

    url = (tree.parent / "outside" / "secret.txt").as_uri()
    with _reader(tree) as reader, pytest.raises(BlockedSourceError) as info:
        reader.read(url)
    assert info.value.source == url


@pytest.mark.parametrize("form", ["plain", "file:", "FILE:", "FiLe://localhost", "Path"])
def test_without_roots_no_local_source_is_read_and_refusals_do_not_tell_existence(
    tree: Path, form: str
):
    """The same refusal for a file that exists and one that does not: no existence oracle."""
    reasons = []
    for path in (tree / "coffee.jpg", tree / "missing.jpg"):
        source = {
            "plain": str(path),
            "file:": path.as_uri(),
            "FILE:": "FILE://" + str(path),
            "FiLe://localhost": "FiLe://localhost" + str(path),
            "Path": path,
        }[form]
        with _reader() as reader, pytest.raises(BlockedSourceError) as info:
            reader.read(source)
        reasons.append(info.value.reason)
    assert reasons[0] == reasons[1]
    assert "coffee" not in reasons[0]


def test_trusted_roots_admit_an_operator_folder_that_data_roots_do_not(tree: Path):
    expected = (tree / "coffee.jpg").read_bytes()
    with ImageReader(ImageIOSettings(), trusted_roots=[tree]) as reader:
        assert reader.read(str(tree / "coffee.jpg")) == expected
        with pytest.raises(BlockedSourceError):
            reader.read(str(tree.parent / "outside" / "secret.txt"))


def test_a_symlink_out_of_the_roots_is_refused_like_a_path_outside(tree: Path):
    (tree / "sneaky.jpg").symlink_to(tree.parent / "outside" / "secret.txt")
    with _reader(tree) as reader:
        with pytest.raises(BlockedSourceError) as via_link:
            reader.read(str(tree / "sneaky.jpg"))
        with pytest.raises(BlockedSourceError) as direct:
            reader.read(str(tree.parent / "outside" / "secret.txt"))
    assert via_link.value.reason == direct.value.reason
    assert "outside/" not in via_link.value.reason


def test_file_url_with_a_remote_host_is_blocked(tree: Path):
    with _reader() as reader, pytest.raises(BlockedSourceError, match="remote host"):
        reader.read("file://fileserver/share/coffee.jpg")


def test_missing_file_and_directory_are_fetch_errors(tree: Path):
    with _reader(tree) as reader:
        with pytest.raises(FetchError, match="no such file") as missing:
            reader.read(str(tree / "nope.jpg"))
        with pytest.raises(FetchError, match="not a regular file") as folder:
            reader.read(str(tree / "sub"))
    assert not isinstance(missing.value, BlockedSourceError)
    assert not isinstance(folder.value, BlockedSourceError)


def test_file_over_max_bytes_is_too_large(tree: Path):
    size = (tree / "coffee.jpg").stat().st_size
    with _reader(tree, max_bytes=size - 1) as reader, pytest.raises(TooLargeError, match=str(size)):
        reader.read(str(tree / "coffee.jpg"))
    with _reader(tree, max_bytes=size) as reader:
        assert len(reader.read(str(tree / "coffee.jpg"))) == size


@pytest.mark.parametrize(
    "source",
    ["ftp://example.com/a.jpg", "gopher://x/", "data:image/png;base64,iVBORw0KGgo=", "gs://b/k"],
)
def test_unsupported_schemes_are_blocked(source: str):
    with _reader() as reader, pytest.raises(BlockedSourceError, match="unsupported scheme"):
        reader.read(source)


def test_a_path_object_is_always_local_even_under_a_label_studio_prefix(tmp_path: Path):
    """A str '/data/upload/...' goes to Label Studio; a Path never leaves the machine (and
    passes the same roots)."""
    io = ImageIOSettings(local_roots=[Path("/data")])
    reader = ImageReader(io, LabelStudioSettings(url="http://8.8.8.8:1"))
    with reader, pytest.raises(FetchError, match="no such file"):
        reader.read(Path("/data/upload/1/definitely-missing.jpg"))
