"""Test data for the index suites: content hashes, clustered unit vectors, real payloads."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np

from winnow.index import IndexPoint, VectorIndex

# make_index(**index_settings) -> a fresh or reopened index on the backend under test
MakeIndex = Callable[..., VectorIndex]


def sha(i: int | str) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def clustered(n: int, dim: int, clusters: int, *, seed: int = 0, spread: float = 0.65):
    """``n`` unit vectors around ``clusters`` random centres, and each one's cluster.

    Noise ``spread`` times the centres' scale gives a within-cluster cosine of about
    1 / (1 + spread**2) (0.7 by default), like image embeddings of one class.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    which = rng.integers(0, clusters, size=n)
    vectors = centres[which] + spread * rng.normal(size=(n, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), which


def make_points(vectors: np.ndarray, groups: np.ndarray, *, project: int = 1) -> list[IndexPoint]:
    """Points with realistic payloads: label = cluster, split cycles, every 7th flagged."""
    splits = ("train", "val", "test")
    return [
        IndexPoint(
            sha(i),
            vectors[i],
            {
                "task_id": i,
                "task_ids": [i],
                "labels": [f"c{g}"],
                "label": f"c{g}",
                "split": splits[i % 3],
                "flags": ["label_issue"] if i % 7 == 0 else [],
                "url": f"/data/upload/{i}.jpg",
                "project": project,
            },
        )
        for i, g in enumerate(groups)
    ]
