"""Annotator agreement on tasks labelled by several people: kappas, and the tasks to look at.

Input is a long table, one row per annotation: ``task_id``, ``annotator``, ``label`` (one
class per annotation; labels are any hashable values). Build it from arrays with
:func:`annotations_frame`.

- Cohen's kappa per annotator pair, on the tasks both labelled (scikit-learn).
- Fleiss' kappa over all tasks with at least two annotations, and per class (Fleiss 1971's
  kappa_j). Tasks may have different numbers of annotations: observed agreement is pooled
  over annotator pairs, which is exactly Fleiss' formula when the number is constant.
- Per annotator: mean Cohen's kappa with the others, and how often the annotator agrees with
  the majority of the *other* annotators of a task.
- Tasks with disagreement, least agreed first.

Kappa is NaN where chance agreement is 1 (everyone used one class), as scikit-learn returns.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

COLUMNS = ["task_id", "annotator", "label"]


@dataclass(frozen=True)
class AgreementReport:
    """Everything :func:`agreement_report` measures; the frames as documented below."""

    fleiss_kappa: float
    per_class: pd.DataFrame  # label, n_annotations, fleiss_kappa (lowest first)
    pairs: pd.DataFrame  # see pairwise_cohen_kappa
    annotators: pd.DataFrame  # see per_annotator
    disagreements: pd.DataFrame  # see disagreements


def agreement_report(annotations: pd.DataFrame, *, min_overlap: int = 2) -> AgreementReport:
    """All agreement measures over the tasks of ``annotations`` that have 2+ annotations."""
    frame = check_annotations(annotations)
    table = count_table(frame)
    counts = table.to_numpy()
    per_class = pd.DataFrame(
        {
            "label": table.columns,
            "n_annotations": counts[counts.sum(axis=1) >= 2].sum(axis=0),
            "fleiss_kappa": fleiss_kappa_per_class(counts),
        }
    ).sort_values("fleiss_kappa", na_position="last")
    return AgreementReport(
        fleiss_kappa(counts),
        per_class.reset_index(drop=True),
        pairwise_cohen_kappa(frame, min_overlap=min_overlap),
        per_annotator(frame, min_overlap=min_overlap),
        disagreements(frame),
    )


def annotations_frame(task_ids: object, annotators: object, labels: object) -> pd.DataFrame:
    """The long table from three equal-length sequences, validated."""
    lengths = {len(task_ids), len(annotators), len(labels)}  # type: ignore[arg-type]
    if len(lengths) != 1:
        raise ValueError(f"task_ids, annotators and labels must have one length, got {lengths}")
    frame = pd.DataFrame({"task_id": task_ids, "annotator": annotators, "label": labels})
    return check_annotations(frame)


def check_annotations(annotations: pd.DataFrame) -> pd.DataFrame:
    """Columns present, no missing values, at most one annotation per (task, annotator)."""
    if not isinstance(annotations, pd.DataFrame):
        raise TypeError(f"annotations must be a DataFrame, got {type(annotations).__name__}")
    missing = [c for c in COLUMNS if c not in annotations.columns]
    if missing:
        raise ValueError(f"annotations lacks columns {missing}; it needs {COLUMNS}")
    frame = annotations[COLUMNS]
    if frame.isna().any().any():
        raise ValueError("annotations must not hold missing values")
    repeated = frame.duplicated(["task_id", "annotator"], keep=False)
    if repeated.any():
        row = frame[repeated].iloc[0]
        raise ValueError(
            f"annotator {row['annotator']!r} labelled task {row['task_id']!r} more than once"
        )
    return frame.reset_index(drop=True)


def count_table(annotations: pd.DataFrame) -> pd.DataFrame:
    """Tasks x labels: how many annotators gave each label to each task (Fleiss' input)."""
    frame = check_annotations(annotations)
    return pd.crosstab(frame["task_id"], frame["label"])


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa of ``counts`` ``(N, K)``: ``counts[i, j]`` annotators put task i in class j.

    Observed agreement is the share of agreeing annotator pairs within tasks, pooled over
    tasks (with a constant number of annotators this is Fleiss' mean of per-task agreement;
    with varying numbers, an unweighted mean would let a 2-annotator task outweigh a
    100-annotator one). Tasks with fewer than two annotations are left out.
    """
    c = _check_counts(counts)
    n = c.sum(axis=1)
    p_obs = float((np.sum(c**2) - n.sum()) / np.sum(n * (n - 1)))
    p = c.sum(axis=0) / c.sum()
    p_exp = float(np.sum(p**2))
    return float((p_obs - p_exp) / (1.0 - p_exp)) if p_exp < 1.0 else float("nan")


def fleiss_kappa_per_class(counts: np.ndarray) -> np.ndarray:
    """Fleiss' kappa_j ``(K,)``: agreement on class j against everything else.

    Satisfies ``kappa = sum(p_j q_j kappa_j) / sum(p_j q_j)``; NaN for a class nobody (or
    everybody) used.
    """
    c = _check_counts(counts)
    n = c.sum(axis=1, keepdims=True)
    p = c.sum(axis=0) / c.sum()
    disagree = (c * (n - c)).sum(axis=0) / np.sum(n * (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p * (1 - p) > 0, 1.0 - disagree / (p * (1 - p)), np.nan)


def _check_counts(counts: object) -> np.ndarray:
    c = np.asarray(counts)
    if c.dtype.kind not in "iu" or c.ndim != 2:
        raise TypeError(f"counts must be a 2-D integer array, got {c.dtype} {c.shape}")
    if c.size and c.min() < 0:
        raise ValueError("counts must be >= 0")
    c = c[c.sum(axis=1) >= 2].astype(np.float64)
    if len(c) == 0:
        raise ValueError("counts has no task with at least two annotations")
    return c


def pairwise_cohen_kappa(annotations: pd.DataFrame, *, min_overlap: int = 2) -> pd.DataFrame:
    """One row per annotator pair sharing at least ``min_overlap`` tasks.

    Columns: ``annotator_a, annotator_b, n_tasks, agreement`` (share of equal labels),
    ``kappa``. Sorted by kappa, lowest (least consistent pair) first.
    """
    frame = check_annotations(annotations)
    wide = frame.pivot(index="task_id", columns="annotator", values="label")
    classes = sorted(frame["label"].unique(), key=str)
    rows = []
    for a, b in itertools.combinations(sorted(wide.columns, key=str), 2):
        both = wide[[a, b]].dropna()
        if len(both) >= min_overlap:
            with warnings.catch_warnings():  # undefined kappa -> NaN, documented above
                warnings.simplefilter("ignore")
                kappa = cohen_kappa_score(both[a], both[b], labels=classes)
            agree = float((both[a] == both[b]).mean())
            rows.append((a, b, len(both), agree, float(kappa)))
    columns = ["annotator_a", "annotator_b", "n_tasks", "agreement", "kappa"]
    return pd.DataFrame(rows, columns=columns).sort_values("kappa", na_position="last")


def per_annotator(annotations: pd.DataFrame, *, min_overlap: int = 2) -> pd.DataFrame:
    """One row per annotator: ``n_tasks``, ``mean_kappa`` (over the pairs, weighted by shared
    tasks), ``agrees_with_others`` (share of their labels equal to the majority label of the
    task's other annotators; ties count as disagreement). Lowest mean kappa first."""
    frame = check_annotations(annotations)
    pairs = pairwise_cohen_kappa(frame, min_overlap=min_overlap)
    both = pd.concat(
        [
            pairs.rename(columns={"annotator_a": "annotator"}),
            pairs.rename(columns={"annotator_b": "annotator"}),
        ]
    ).dropna(subset=["kappa"])
    weighted = both.assign(w=both["kappa"] * both["n_tasks"]).groupby("annotator")
    mean_kappa = weighted["w"].sum() / weighted["n_tasks"].sum()
    out = frame.groupby("annotator").size().rename("n_tasks").to_frame()
    out["mean_kappa"] = mean_kappa
    out["agrees_with_others"] = _agreement_with_others(frame)
    return out.reset_index().sort_values("mean_kappa", na_position="last")


def _agreement_with_others(frame: pd.DataFrame) -> pd.Series:
    """Per annotator: share of their labels that a strict majority of the others also gave."""
    n = frame.groupby(["task_id", "label"])["annotator"].transform("size")
    total = frame.groupby("task_id")["annotator"].transform("size")
    counts = frame.groupby(["task_id", "label"]).size().rename("n").reset_index()
    counts = counts.sort_values(["task_id", "n"], ascending=[True, False], kind="stable")
    rank = counts.groupby("task_id").cumcount()
    top1 = frame["task_id"].map(counts[rank == 0].set_index("task_id")["n"])
    top2 = frame["task_id"].map(counts[rank == 1].set_index("task_id")["n"]).fillna(0)
    best_other = np.where(n == top1, top2, top1)  # most votes for a label other than mine
    agrees = (n - 1 > best_other)[total >= 2]
    return agrees.groupby(frame["annotator"][total >= 2]).mean()


def disagreements(annotations: pd.DataFrame) -> pd.DataFrame:
    """Tasks with two or more annotations and more than one label, least agreed first.

    Columns: ``task_id, n_annotations, n_labels, majority_label, majority_share, labels``
    (``labels`` maps each label to its annotators).
    """
    frame = check_annotations(annotations)
    by_task = frame.groupby("task_id", sort=False)["label"]
    # Most tasks have one annotation: drop agreed tasks in one vectorised pass, so a
    # project of 100k tasks loops over its disagreements only.
    frame = frame[(by_task.transform("size") >= 2) & (by_task.transform("nunique") > 1)]
    rows = []
    for task, group in frame.groupby("task_id", sort=False):
        votes = group["label"].value_counts()
        if len(group) >= 2 and len(votes) > 1:
            by_label = group.groupby("label")["annotator"].apply(list).to_dict()
            share = float(votes.iloc[0] / len(group))
            rows.append((task, len(group), len(votes), votes.index[0], share, by_label))
    columns = ["task_id", "n_annotations", "n_labels", "majority_label", "majority_share", "labels"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["majority_share", "n_annotations"], ascending=[True, False])
