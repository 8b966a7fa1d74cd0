import gzip
from pathlib import Path

import numpy as np
import pytest

from winnow.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist
from winnow.errors import WinnowError


def test_loads_a_prefix_of_the_real_files() -> None:
    try:
        images, labels, names = load_fashion_mnist("test", limit=500)
    except WinnowError as exc:
        pytest.fail(f"{exc}. Run `make apt` to install the data set.")
    assert images.shape == (500, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (500,) and labels.dtype == np.int64
    assert names == FASHION_MNIST_CLASSES and len(names) == 10
    assert set(np.unique(labels)) == set(range(10))  # a shuffled prefix holds every class
    assert 60 < images.mean() < 90  # dark background, brighter garments
    full, _, _ = load_fashion_mnist("test")
    assert len(full) == 10_000
    np.testing.assert_array_equal(full[:500], images)
    images.flags.writeable = True  # a private copy, not a view of read-only bytes


def _write_idx(path: Path, header: bytes, body: bytes) -> None:
    with gzip.open(path, "wb") as fh:
        fh.write(header + body)


def test_missing_or_broken_files_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(WinnowError, match="make apt"):
        load_fashion_mnist(root=tmp_path)
    dims = (3).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", b"\0\0\x08\x03" + dims, bytes(100))
    _write_idx(
        tmp_path / "train-labels-idx1-ubyte.gz", b"\0\0\x08\x01" + (3).to_bytes(4, "big"), bytes(3)
    )
    with pytest.raises(WinnowError, match="truncated"):
        load_fashion_mnist(root=tmp_path)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", b"\0\0\x0d\x03" + dims, bytes(3 * 784))
    with pytest.raises(WinnowError, match="unsigned bytes"):
        load_fashion_mnist(root=tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("validation")  # type: ignore[arg-type]
