"""``winnow report model`` for multi-label data: gather label sets, the held-out split, the
models and the multi-label label audit, run :mod:`analysis.report.multilabel_report` and
write the page with a checklist that reads label sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.label_issues import find_multilabel_issues, out_of_sample_multilabel_probs
from analysis.report import readiness as rd
from analysis.report.eda import dataset_fingerprint
from analysis.report.multilabel_report import (
    MultiLabelReport,
    MultiLabelSplit,
    build_multilabel_report,
    render_multilabel_report,
)
from analysis.splits import assign_splits, label_prevalence_deviation
from sync.report.cams import (
    card_text,
    data_checks,
    eda_check,
    preprocessing_check,
    preprocessing_text,
)
from sync.report.inputs import ReportInputs
from sync.report.model import HELD_OUT, registry_models, usable_rows, zero_shot
from winnow.config import Settings
from winnow.learn.linear_head import fit_linear_head

SEPARATOR = "+"


def label_matrix(labels: pd.Series) -> tuple[np.ndarray, list[str]]:
    """ "+"-joined label sets ``(N,)`` -> bool ``(N, K)`` and the sorted class names."""
    sets = [str(v).split(SEPARATOR) if pd.notna(v) else [] for v in labels]
    classes = sorted({c for s in sets for c in s if c})
    index = {c: k for k, c in enumerate(classes)}
    out = np.zeros((len(sets), len(classes)), dtype=bool)
    for i, s in enumerate(sets):
        out[i, [index[c] for c in s if c]] = True
    return out, classes


def held_out_rows(
    files: pd.DataFrame, rows: np.ndarray, y: np.ndarray, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, str]:
    """The data's own test split (else val) against the rest; without one, a multi-label
    stratified sample (:func:`analysis.splits.assign_splits` over the label sets)."""
    split = files.loc[rows, "split"]
    for name in ("test", "val"):
        held = (split == name).to_numpy()
        if held.any() and not held.all():
            train = (split == "train").to_numpy() | split.isna().to_numpy()
            return rows[train if train.any() else ~held], rows[held], f"the '{name}' split"
    sets = [[str(k) for k in np.flatnonzero(r)] for r in y]
    fractions = {"train": 1 - HELD_OUT, "test": HELD_OUT}
    assigned = assign_splits(sets, fractions=fractions, seed=seed)
    how = f"a label-stratified {HELD_OUT:.0%} sample (seed {seed})"
    return rows[assigned == "train"], rows[assigned == "test"], how


def fit_multilabel_head(classes: list[str]):
    """The report's ``fit``: the project's one-vs-rest linear head on cached embeddings."""

    def fit(x: np.ndarray, y: np.ndarray, seed: int):
        sets = [[classes[k] for k in np.flatnonzero(row)] for row in y]
        return fit_linear_head(x, sets, classes=classes, multi_label=True, seed=seed).predict_proba

    return fit


def write_multilabel_report(
    inputs: ReportInputs,
    settings: Settings,
    out: Path,
    *,
    card: Path | None = None,
    data_report: Path | None = None,
    project: int | None = None,
    plotlyjs: str = "compressed",
) -> tuple[Path, bool]:
    """Write the multi-label model report to ``out``; returns the path and the verdict."""
    files = inputs.result.files
    usable = usable_rows(files, inputs.vectors)
    y_all, classes = label_matrix(files["label"])
    y = pd.DataFrame(y_all, index=files.index)
    train_rows, test_rows, how = held_out_rows(
        files, usable, y.loc[usable].to_numpy(), seed=settings.training.seed
    )
    x = inputs.vectors
    split = MultiLabelSplit(
        classes,
        x[train_rows],
        y.loc[train_rows].to_numpy(),
        x[test_rows],
        y.loc[test_rows].to_numpy(),
        how,
    )
    others = zero_shot(inputs, settings, classes, files, test_rows, multiple=True)
    others |= registry_models(settings, project, classes, split.x_test, multiple=True)
    probs = out_of_sample_multilabel_probs(x[usable], y.loc[usable].to_numpy())
    flagged = pd.Series(find_multilabel_issues(y.loc[usable].to_numpy(), probs).is_issue, usable)
    report = build_multilabel_report(
        split,
        fit_multilabel_head(classes),
        others=others,
        train_issue=flagged[train_rows].to_numpy(),
        test_issue=flagged[test_rows].to_numpy(),
        title=f"Model report (multi-label): {inputs.source}",
    )
    items = multilabel_checklist(
        inputs, report, files, train_rows, test_rows, flagged.to_numpy(), card, data_report
    )
    html = render_multilabel_report(
        report,
        checklist=items,
        preprocessing=preprocessing_text(inputs.embedder),
        fingerprint=dataset_fingerprint(files),
        plotlyjs=plotlyjs,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out, rd.verdict(items)


def multilabel_checklist(
    inputs: ReportInputs,
    report: MultiLabelReport,
    files: pd.DataFrame,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    issue: np.ndarray,
    card: Path | None,
    data_report: Path | None,
) -> list[rd.CheckItem]:
    """The readiness items, with the class-mix and label-audit items read per label."""
    s = report.split
    sets = [[s.classes[k] for k in np.flatnonzero(row)] for row in np.vstack([s.y_train, s.y_test])]
    gaps = label_prevalence_deviation(
        ["train"] * len(s.y_train) + ["held-out"] * len(s.y_test), sets
    )
    worst = gaps.abs().max().idxmax() if gaps.size else "no labels"
    positives = np.asarray(s.y_test, bool).sum(axis=0)
    return [
        *data_checks(files, train_rows, test_rows, issue, "the multi-label label-issue audit"),
        rd.label_balance_check(float(gaps.abs().max().max()) if gaps.size else 0.0, str(worst)),
        rd.positives_check(positives.tolist(), (len(s.y_test) - positives).tolist(), s.classes),
        preprocessing_check(inputs),
        eda_check(data_report, dataset_fingerprint(files)),
        rd.CheckItem(
            "sanity checks passed",
            report.shuffle.passed,
            f"shuffled-label macro AUROC {report.shuffle.macro_auroc:.3f} "
            f"(limit {report.shuffle.limit:.3f})",
        ),
        rd.card_check(card_text(card)),
    ]
