"""The audit table: contract, ordering and evidence, on crafted cases."""

import numpy as np
import pandas as pd
import pytest

from analysis.audit import ISSUE_COLUMNS, ISSUE_TYPES, AuditOptions, audit


def _file(uri: str, sha: str, *, label=None, split=None, phash=0, error_kind=None, **kw) -> dict:
    row = {
        "uri": uri,
        "sha256": sha,
        "label": label,
        "split": split,
        "error_kind": error_kind,
        "error": "boom" if error_kind else None,
        "format": None if error_kind else "JPEG",
        "phash": phash,
        "width": 640,
        "height": 480,
        "blur": 500.0,
        "brightness": 0.5,
        "dark_fraction": 0.01,
        "bright_fraction": 0.01,
        "entropy": 7.0,
        "is_grayscale": False,
        "has_alpha": False,
        "exif_orientation": 1,
        "mode": "RGB",
    }
    row.update(kw)
    return row


def _clusters(n_per: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.eye(2, 16, dtype=np.float32) * 4
    x = np.concatenate([c + rng.normal(0, 1.0, (n_per, 16)) for c in centres]).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_labels_duplicates_leaks_and_unreadable_in_one_table() -> None:
    n_per = 20
    vectors = _clusters(n_per)
    rng = np.random.default_rng(1)
    rows = [
        _file(
            f"/d/{'ab'[i // n_per]}/{i}.jpg",
            f"s{i}",
            label="ab"[i // n_per],
            split="train",
            phash=int(rng.integers(-(2**62), 2**62)),
        )
        for i in range(2 * n_per)
    ]
    rows[3]["label"] = "b"  # a cluster-a image labelled b
    rows.append(dict(rows[5], uri="/d/a/copy.jpg"))  # exact copy of file 5
    rows.append(
        dict(
            rows[7],
            uri="/d/a/near.jpg",
            sha256="near",
            phash=rows[7]["phash"] ^ 0b111,
            split="test",
        )
    )  # 3 bits from file 7, other split
    rows.append(_file("/d/a/bad.png", "bad", error_kind="truncated"))
    emb = np.concatenate([vectors, vectors[[5, 7]], np.zeros((1, 16), np.float32)])
    result = audit(pd.DataFrame(rows), embeddings=emb)

    issues = result.issues
    assert list(issues.columns) == ISSUE_COLUMNS
    found = {(r.path, r.issue_type) for r in issues.itertuples()}
    # one wrong label among 40: flagged; which queue depends on the estimated precision
    tiers = {"label_issue", "possible_label_issue"}
    assert {t for p, t in found if p == "/d/a/3.jpg"} & tiers
    label_row = issues[issues["issue_type"].isin(tiers)].iloc[0]
    assert (label_row["given_label"], label_row["suggested_label"]) == ("b", "a")
    assert ("/d/a/copy.jpg", "exact_duplicate") in found
    assert ("/d/a/bad.png", "unreadable") in found
    assert {"/d/a/7.jpg", "/d/a/near.jpg"} <= {p for p, t in found if t == "split_leak"}
    near = issues[issues["issue_type"] == "near_duplicate"]
    assert len(near) == 1 and near.iloc[0]["path"] in {"/d/a/7.jpg", "/d/a/near.jpg"}
    leaks = issues[issues["issue_type"] == "split_leak"]
    assert leaks["group"].nunique() == 1  # one cluster, one group name
    # severity order: types in ISSUE_TYPES order, scores descending within a type
    order = issues["issue_type"].map(ISSUE_TYPES.index).to_numpy()
    assert (np.diff(order) >= 0).all()
    for _, part in issues.groupby("issue_type"):
        assert (np.diff(part["score"].to_numpy()) <= 0).all()
    assert result.files.loc[3, "suggested_label"] == "a"


def test_checks_can_be_selected_and_unknown_ones_refused() -> None:
    rows = [_file("/d/x.jpg", "s1"), _file("/d/y.jpg", "s1"), _file("/d/z.jpg", "s2", blur=1.0)]
    only = audit(pd.DataFrame(rows), options=AuditOptions(checks=frozenset({"blurry"})))
    assert set(only.issues["issue_type"]) == {"blurry"}
    assert only.issues.iloc[0]["details"].startswith("Laplacian variance 1.0")
    with pytest.raises(ValueError, match="unknown checks"):
        AuditOptions(checks=frozenset({"blurry", "wobbly"}))


def test_no_embeddings_skips_embedding_checks_only() -> None:
    rows = [_file("/d/x.png", "s1"), _file("/d/y.jpg", "s1")]
    result = audit(pd.DataFrame(rows))
    assert set(result.issues["issue_type"]) == {"wrong_extension", "exact_duplicate"}
