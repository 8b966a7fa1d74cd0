"""A logistic-regression head on cached embeddings: the first useful model within seconds.

Fitting a linear classifier on embeddings the feature store already holds takes well under a
second for thousands of labels, so the backend can switch from zero-shot to a model of the
project's own classes long before a fine-tuning run finishes.

The head keeps one column per class of the labeling config, in config order, even for classes
that have no (or only) positive examples yet. Such classes get a *fixed* probability instead of
a fitted one: 0 for a class never seen (single-label) or never positive (multi-label), 1 for a
multi-label class that every example has. Callers can therefore index columns by class name
without caring what the annotations happened to cover.

Saved as ``head.npz`` (float arrays only, loaded with ``allow_pickle=False``) and ``head.json``
(classes, mode, format version) in a directory: nothing executable is unpickled on load.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
C = 10.0  # inverse L2 strength; unit-norm embeddings need weak regularisation
MAX_ITER = 1000


@dataclass(frozen=True, eq=False)
class LinearHead:
    """``coef`` ``(K, D)``, ``intercept`` ``(K,)``; ``fixed`` ``(K,)`` is NaN for fitted columns
    and the constant probability (0 or 1) of the others."""

    classes: tuple[str, ...]
    multi_label: bool
    coef: np.ndarray
    intercept: np.ndarray
    fixed: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.coef.shape[1])

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, K)`` in class order; single-label rows sum to 1."""
        x = _check_vectors(vectors, self.dim)
        logits = x @ self.coef.T + self.intercept
        fitted = np.isnan(self.fixed)
        probs = np.tile(np.nan_to_num(self.fixed), (len(x), 1))
        if self.multi_label:
            probs[:, fitted] = 1.0 / (1.0 + np.exp(-logits[:, fitted]))
        elif fitted.any():
            z = logits[:, fitted]
            e = np.exp(z - z.max(axis=1, keepdims=True))
            probs[:, fitted] = e / e.sum(axis=1, keepdims=True)
        return probs

    def save(self, path: Path | str) -> Path:
        """Write ``head.npz`` and ``head.json`` into the directory ``path`` (created)."""
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "head.npz", coef=self.coef, intercept=self.intercept, fixed=self.fixed)
        meta = {
            "format": FORMAT_VERSION,
            "classes": list(self.classes),
            "multi_label": self.multi_label,
        }
        (folder / "head.json").write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, path: Path | str) -> LinearHead:
        """Read a head written by :meth:`save`; ValueError if it is not one."""
        folder = Path(path)
        try:
            meta = json.loads((folder / "head.json").read_text())
            with np.load(folder / "head.npz", allow_pickle=False) as arrays:
                coef, intercept, fixed = arrays["coef"], arrays["intercept"], arrays["fixed"]
        except (OSError, KeyError, json.JSONDecodeError) as exc:
            raise ValueError(f"{folder} does not hold a saved linear head: {exc}") from exc
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{folder}: head format {meta.get('format')!r} is not supported")
        k = len(meta["classes"])
        if coef.shape[0] != k or intercept.shape != (k,) or fixed.shape != (k,):
            raise ValueError(f"{folder}: arrays do not match {k} classes")
        return cls(tuple(meta["classes"]), bool(meta["multi_label"]), coef, intercept, fixed)


def fit_linear_head(
    vectors: np.ndarray,
    labels: Sequence[Sequence[str]],
    *,
    classes: Sequence[str],
    multi_label: bool,
    seed: int = 0,
) -> LinearHead:
    """Fit a head on embeddings ``(N, D)`` and their label lists (one per row).

    Single-label rows need exactly one label; multi-label rows any number (also none). Every
    label must be one of ``classes``. Raises ValueError naming the offending row or label.
    """
    names = _check_classes(classes)
    x = _check_vectors(vectors, None)
    y = _label_matrix(labels, names, len(x), multi_label=multi_label)
    k, d = y.shape[1], x.shape[1]
    coef, intercept = np.zeros((k, d)), np.zeros(k)
    fixed = np.full(k, np.nan)
    counts = y.sum(axis=0)
    if multi_label:
        fixed[counts == 0] = 0.0
        fixed[counts == len(x)] = 1.0
        for c in np.flatnonzero(np.isnan(fixed)):
            model = _logistic(seed).fit(x, y[:, c])
            coef[c], intercept[c] = model.coef_[0], model.intercept_[0]
    else:
        present = np.flatnonzero(counts)
        fixed[counts == 0] = 0.0
        if len(present) == 1:
            fixed[present] = 1.0
        else:
            model = _logistic(seed).fit(x, y.argmax(axis=1))
            rows = model.coef_ if len(present) > 2 else np.vstack([-model.coef_, model.coef_]) / 2
            bias = model.intercept_ if len(present) > 2 else np.r_[-1, 1] * model.intercept_ / 2
            coef[present], intercept[present] = rows, bias
    return LinearHead(names, multi_label, coef, intercept, fixed)


def _logistic(seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=MAX_ITER, random_state=seed)


def _label_matrix(
    labels: Sequence[Sequence[str]], names: tuple[str, ...], n: int, *, multi_label: bool
) -> np.ndarray:
    """0/1 membership ``(n, K)``; checks row count, label names and (single-label) arity."""
    if isinstance(labels, str) or len(labels) != n:
        raise ValueError(f"labels must hold one list per vector ({n}), got {len(labels)}")
    index = {name: i for i, name in enumerate(names)}
    y = np.zeros((n, len(names)), dtype=np.int64)
    for row, row_labels in enumerate(labels):
        if isinstance(row_labels, str):
            raise ValueError(f"labels[{row}] must be a list of class names, got {row_labels!r}")
        unknown = [label for label in row_labels if label not in index]
        if unknown:
            raise ValueError(f"labels[{row}] has labels not in classes: {unknown}")
        if not multi_label and len(set(row_labels)) != 1:
            raise ValueError(f"labels[{row}] must hold exactly one label, got {list(row_labels)}")
        y[row, [index[label] for label in row_labels]] = 1
    return y


def _check_classes(classes: Sequence[str]) -> tuple[str, ...]:
    names = tuple(classes)
    if not names or not all(isinstance(c, str) for c in names):
        raise ValueError(f"classes must be a non-empty list of names, got {classes!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"classes must be distinct, got {list(names)}")
    return names


def _check_vectors(vectors: np.ndarray, dim: int | None) -> np.ndarray:
    x = np.asarray(vectors)
    if x.dtype.kind not in "fiu" or x.ndim != 2 or (dim is not None and x.shape[1] != dim):
        want = f"(N, {dim})" if dim is not None else "(N, D)"
        raise ValueError(f"vectors must be real numbers of shape {want}, got {x.dtype} {x.shape}")
    if dim is None and x.shape[0] == 0:
        raise ValueError("vectors must hold at least one row to fit on")
    if not np.isfinite(x).all():
        raise ValueError("vectors must be finite; they hold NaN or inf")
    return x.astype(np.float64, copy=False)
