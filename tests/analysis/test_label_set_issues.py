"""Label issues over label sets: Fashion-MNIST mosaics with a few sets replaced by their
complement (every class that is there dropped, every other one added) must top the ranking,
and the audit must judge "A|B" per class when told the labels are sets."""

import numpy as np
import pandas as pd
import pytest

from analysis.audit import AuditOptions, audit
from analysis.label_set_issues import disagreements, label_set_issues
from winnow.mosaics import fashion_mnist_mosaics, label_sets

N = 120
PLANTED = (4, 33, 61, 90, 117)


@pytest.fixture(scope="module")
def mosaics() -> tuple[np.ndarray, list[list[str]], tuple[str, ...]]:
    """(mean-pooled pixel features (N, 196), given sets with complements planted, names)."""
    pixels, matrix, names = fashion_mnist_mosaics(N, seed=5)
    x = pixels.reshape(N, 14, 4, 14, 4).mean(axis=(2, 4)).reshape(N, -1) / 255
    sets = label_sets(matrix, names)
    for i in PLANTED:
        sets[i] = [n for n in names if n not in sets[i]]
    return x.astype(np.float32) + 1e-3, sets, names


def test_complement_sets_top_the_ranking(mosaics) -> None:
    x, sets, names = mosaics
    found = label_set_issues(x, sets)
    assert found.classes == sorted(names)
    assert found.matrix.sum(axis=1).tolist() == [len(s) for s in sets]
    ranks = [found.ranked.tolist().index(i) for i in PLANTED]  # ValueError: not flagged
    # weak pixel features: most complements at the very top, all in the top quarter of N
    assert sum(r < 2 * len(PLANTED) for r in ranks) >= len(PLANTED) - 1 and max(ranks) < N // 4
    assert found.probs.shape == found.suggested.shape == (N, len(names))
    assert ((found.wrong >= 0) & (found.wrong <= 1)).all()
    # a planted set disputes classes it was given, in the model's words
    evidence = disagreements(found, PLANTED[0])
    assert evidence.startswith(("given ", "missing ")) and "(p=" in evidence


def test_audit_judges_joined_sets_per_class(mosaics) -> None:
    x, sets, names = mosaics
    table = pd.DataFrame(
        {
            "uri": [f"task:{i}" for i in range(N)],
            "sha256": [f"{i:064x}" for i in range(N)],
            "label": ["|".join(sorted(s)) for s in sets],
            "split": None,
            "error_kind": None,
            "format": "PNG",
        }
    )
    checks = frozenset({"label_issue", "possible_label_issue"})
    as_sets = audit(
        table, embeddings=x, options=AuditOptions(checks=checks, label_set_separator="|")
    )
    issues = as_sets.issues
    assert set(issues["issue_type"]) == {"possible_label_issue"}  # no cut claimed for sets
    assert {f"task:{i}" for i in PLANTED} <= set(issues["path"].head(N // 4))
    row = issues[issues["path"] == f"task:{PLANTED[0]}"].iloc[0]
    assert row["given_label"] == table["label"][PLANTED[0]]
    suggested = set((row["suggested_label"] or "").split("|")) - {""}
    assert suggested <= set(names) and suggested != set(row["given_label"].split("|"))
    assert "per class, out of sample" in row["details"]
    assert as_sets.label_estimate is None
