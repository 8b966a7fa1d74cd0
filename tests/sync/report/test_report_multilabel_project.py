"""``winnow report model`` on label sets ("+"-joined, as project_table writes them) routes to
the multi-label report, with a label-stratified held-out split and a per-label checklist."""

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from analysis.audit import AuditResult
from sync.report.inputs import ReportInputs
from sync.report.model import write_model_report
from sync.report.multilabel import fit_multilabel_head, held_out_rows, label_matrix
from winnow.mosaics import fashion_mnist_mosaics, label_sets


def test_label_sets_get_the_multilabel_report(make_settings, tmp_path) -> None:
    mosaics, y, names = fashion_mnist_mosaics(480, seed=2)
    vectors = mosaics.reshape(480, 14, 4, 14, 4).mean(axis=(2, 4)).reshape(480, -1) / 255
    vectors = vectors.astype(np.float32) + 1e-3  # no all-zero row (an unreadable image)
    files = pd.DataFrame(
        {
            "uri": [f"m{i}.png" for i in range(480)],
            "sha256": [f"{i:064x}" for i in range(480)],
            "label": ["+".join(s) for s in label_sets(y, names)],
            "split": None,
            "error_kind": None,
            "error": None,
        }
    )
    inputs = ReportInputs(AuditResult(pd.DataFrame(), files), vectors, None, bytes, "mosaics")
    settings = make_settings()
    out, go = write_model_report(inputs, settings, tmp_path / "m.html", plotlyjs="plain")
    html = out.read_text()
    assert 'content="model-multilabel"' in html
    assert not go  # no embedder, so preprocessing is not documented
    checks = dict(re.findall(r'data-check="([^"]+)" data-passed="([^"]+)"', html))
    assert checks["splits balanced per label"] == "True"
    assert checks["every class scorable"] == "True"
    assert checks["preprocessing documented"] == "False"
    # the page's micro AUROC is the linear head's, recomputed independently
    matrix, classes = label_matrix(files["label"])
    assert classes == sorted(names)
    held = re.search(r"held-out images · 10 classes · held out: ([^<]+)", html)
    assert held and "label-stratified" in held.group(1)
    shown = re.findall(
        r'data-metric="trained \(one-vs-rest linear head\):micro_auroc" '
        r'data-value="([^"]+)"',
        html,
    )
    train, test, _ = held_out_rows(files, np.arange(480), matrix, seed=settings.training.seed)
    probs = fit_multilabel_head(classes)(vectors[train], matrix[train], 0)(vectors[test])
    expected = roc_auc_score(matrix[test], probs, average="micro")
    assert len(shown) == 1 and float(shown[0]) == pytest.approx(expected)
    assert 0.7 < expected < 1.0
