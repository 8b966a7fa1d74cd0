"""Argument checks shared by the pure analysis functions, in one place.

Each check returns the value converted to what the computation needs, or raises TypeError (wrong
kind of value) or ValueError (right kind, out of range) naming the argument, the bad value and
what is allowed. Analysis code never ``assert``s on caller input.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

MAX_PAIRS = 20_000_000  # default bound on returned pair lists: 320 MB of int64 pairs


def check_max_pairs(value: object) -> int | None:
    """``max_pairs`` option: None (no bound) or an integer >= 0."""
    return None if value is None else check_int(value, "max_pairs", 0)


def check_int(value: object, name: str, low: int, high: int | None = None) -> int:
    """An integer (not bool) in ``[low, high]``; ``high=None`` means no upper bound."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        allowed = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be in {allowed}, got {value}")
    return int(value)


def check_float(value: object, name: str, low: float, high: float) -> float:
    """A real number in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not low <= float(value) <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return float(value)


def check_choice(value: object, name: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return str(value)


def check_hashes(values: object, name: str, n: int | None = None) -> np.ndarray:
    """64-bit hashes ``(N,)`` of any integer dtype (int64 as stored, or uint64), as uint64."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integers (int64 hashes), got dtype {arr.dtype}")
    check_shape(arr, name, (n,))
    return arr.astype(np.int64 if arr.dtype.kind == "i" else np.uint64).view(np.uint64)


def check_indices(
    values: object, name: str, shape: tuple[int | None, ...], n: int, *, low: int = 0
) -> np.ndarray:
    """Integer indices in ``[low, n)`` with the given shape (None = any length), as int64."""
    arr = np.asarray(values)
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    check_shape(arr, name, shape)
    if arr.size and (arr.min() < low or arr.max() >= n):
        raise ValueError(
            f"{name} must lie in [{low}, {n}), got values in [{arr.min()}, {arr.max()}]"
        )
    return arr.astype(np.int64, copy=False)


def check_scores(values: object, name: str, n: int) -> np.ndarray:
    """Real scores ``(n,)`` as float64; NaN is allowed and left to the caller."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    check_shape(arr, name, (n,))
    return arr.astype(np.float64)


def check_shape(arr: np.ndarray, name: str, shape: tuple[int | None, ...]) -> None:
    """``arr`` has ``len(shape)`` dimensions and the given sizes where they are not None."""
    ok = arr.ndim == len(shape) and all(
        s is None or s == a for s, a in zip(shape, arr.shape, strict=True)
    )
    if not ok:
        sizes = ["*" if s is None else str(s) for s in shape]
        want = f"({sizes[0]},)" if len(sizes) == 1 else f"({', '.join(sizes)})"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")


def check_unit_rows(values: object, name: str, *, tol: float = 1e-3) -> np.ndarray:
    """Finite, L2-normalised float rows ``(N, D)`` as contiguous float32."""
    arr = np.asarray(values)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be a float array, got dtype {arr.dtype}")
    check_shape(arr, name, (None, None))
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; it holds NaN or inf")
    if len(arr):
        off = float(np.abs(np.linalg.norm(arr, axis=1) - 1.0).max())
        if off > tol:
            raise ValueError(f"{name} rows must be L2-normalised; a row norm is off by {off:.3g}")
    return arr


def check_embeddings(values: object, name: str) -> np.ndarray:
    """Finite float rows ``(N, D)``, N and D >= 1, as contiguous float32 (need not be unit)."""
    arr = np.asarray(values)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be a float array, got dtype {arr.dtype}")
    check_shape(arr, name, (None, None))
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} must be finite; it holds NaN or inf")
    return arr


def check_labels(
    values: object, name: str, n: int, *, n_classes: int | None = None
) -> tuple[np.ndarray, int]:
    """Class indices ``(n,)`` in ``[0, K)`` with at least two distinct values, as int64, and K.

    ``K`` is ``n_classes`` when given, else ``max + 1``. One class leaves nothing to confuse.
    """
    arr = check_indices(values, name, (n,), np.iinfo(np.int64).max)
    k = int(arr.max()) + 1 if arr.size else 0
    if n_classes is not None:
        n_classes = check_int(n_classes, "n_classes", 2)
        if k > n_classes:
            raise ValueError(f"{name} must lie in [0, {n_classes}), got a label {k - 1}")
        k = n_classes
    if len(np.unique(arr)) < 2:
        raise ValueError(f"{name} must hold at least two distinct classes, got {np.unique(arr)}")
    return arr, k


def check_label_matrix(
    values: object, name: str, n: int, *, n_classes: int | None = None
) -> np.ndarray:
    """Multi-label membership ``(n, K)`` of 0/1 or bool, K >= 2, as int64."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "biu":
        raise TypeError(f"{name} must hold 0/1 or bool, got dtype {arr.dtype}")
    check_shape(arr, name, (n, n_classes))
    if arr.shape[1] < 2:
        raise ValueError(f"{name} must have at least 2 class columns, got {arr.shape[1]}")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1, got values {np.unique(arr)[:10]}")
    return arr.astype(np.int64)


def check_pred_probs(
    values: object, name: str, *, rows_sum_to_one: bool, tol: float = 1e-3
) -> np.ndarray:
    """Probabilities ``(N, K)``, N >= 1, K >= 2, in [0, 1], as float64; rows sum to 1 if asked."""
    arr = np.asarray(values)
    if arr.dtype.kind != "f":
        raise TypeError(f"{name} must be a float array, got dtype {arr.dtype}")
    check_shape(arr, name, (None, None))
    if arr.shape[0] == 0 or arr.shape[1] < 2:
        raise ValueError(f"{name} must be (N, K) with N >= 1 and K >= 2, got {arr.shape}")
    if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
        raise ValueError(f"{name} must hold probabilities in [0, 1]")
    if rows_sum_to_one:
        off = float(np.abs(arr.sum(axis=1) - 1.0).max())
        if off > tol:
            raise ValueError(f"{name} rows must sum to 1; a row is off by {off:.3g}")
    return arr.astype(np.float64)


def require_columns(frame: object, columns: Sequence[str], name: str = "table") -> None:
    """``frame`` is a DataFrame holding every name in ``columns``."""
    present = getattr(frame, "columns", None)
    if present is None:
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in present]
    if missing:
        raise ValueError(f"{name} lacks the columns {missing}; it has {list(present)}")
