"""What the evidence panel of each flagged task shows, gathered from the sync's own inputs.

- a label issue: the suggested label with its out-of-sample probability, and the nearest
  labelled tasks by embedding (thumbnails with their labels);
- a duplicate: its partner tasks (thumbnails, links) and the geometric match evidence;
- a quality flag: the measured value against the project's range (percentile, min, median,
  max).

Only the panels a sync will write are built (``only``; see :mod:`sync.review.evidence_keep`
for when a written panel is kept). Each carries the fingerprint of the findings it shows and
the time it was built. No Label Studio calls: embeddings and image measurements come from the
feature store.
"""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from sync.review.evidence_keep import material_fingerprints
from sync.review.evidence_panel import Section, Tile, render_panel, task_link
from sync.review.state import Finding, TaskRow
from sync.review.taskinfo import label_key, labels_of
from winnow.config import Settings
from winnow.labelstudio.label_config import LabelControl
from winnow.store import FeatureStore

NEIGHBOURS = 5  # labelled neighbours shown for a label issue
PARTNERS = 6  # duplicate partners shown
BLOCK = 256  # label-issue tasks whose similarities are held at once
LABEL_TYPES = frozenset({"label_issue", "possible_label_issue"})
DUPLICATE_TYPES = frozenset({"exact_duplicate", "near_duplicate", "split_leak"})
TITLES = {
    "label_issue": "Label issue (likely)",
    "possible_label_issue": "Label issue (possible)",
    "label_spot_check": "Label issue spot check",
    "split_leak": "Split leakage",
    "pii": "PII",
}
# quality check -> (measure name, how to read it from the store's images frame)
MEASURES = {
    "blurry": ("Laplacian variance (sharpness)", lambda f: f["blur"]),
    "dark": ("brightness", lambda f: f["brightness"]),
    "bright": ("brightness", lambda f: f["brightness"]),
    "low_information": ("entropy (bits)", lambda f: f["entropy"]),
    "odd_size": ("megapixels", lambda f: f["width"] * f["height"] / 1e6),
    "odd_aspect_ratio": ("aspect ratio (w/h)", lambda f: f["width"] / f["height"]),
}
_TASK_ID = re.compile(r"task (\d+)")
_MATCH = re.compile(
    r"(\d+) RANSAC inliers of (\d+) ORB matches \((\d+)%\)(, mirrored)?, scale ([0-9.]+)"
)


def review_evidence(
    settings: Settings,
    project: int,
    tasks: list[TaskRow],
    findings: list[Finding],
    *,
    control: LabelControl,
    model_id: str | None,
    only: set[int] | None = None,
    as_of: str | None = None,
) -> dict[int, str]:
    """Task id -> evidence panel HTML, for every task with a finding (in ``only``, if given:
    none at all opens no feature store)."""
    if not findings or (only is not None and not only):
        return {}
    with FeatureStore(settings.store_path, readonly=True) as store:
        return evidence_panels(
            project,
            tasks,
            findings,
            control=control,
            store=store,
            model_id=model_id,
            only=only,
            as_of=as_of,
        )


def evidence_panels(
    project: int,
    tasks: list[TaskRow],
    findings: list[Finding],
    *,
    control: LabelControl,
    store: FeatureStore,
    model_id: str | None,
    only: set[int] | None = None,
    as_of: str | None = None,
) -> dict[int, str]:
    """Task id -> panel HTML, for the flagged tasks in ``only`` (default: all); see the
    module docstring. ``as_of``: the build time shown in each panel."""
    by_id = {t.task_id: t for t in tasks}
    labels = {t.task_id: label_key(labels_of(t, control)) for t in tasks}
    groups: dict[str, set[int]] = defaultdict(set)
    for f in findings:  # every flagged copy, also those whose panel is not built
        if f.group and f.issue_type in DUPLICATE_TYPES:
            groups[f.group].add(f.task_id)
    fingerprints = material_fingerprints(findings)
    if only is not None:
        findings = [f for f in findings if f.task_id in only]
    neighbours = _neighbours(
        tasks, labels, {f.task_id for f in findings if f.issue_type in LABEL_TYPES}, store, model_id
    )
    measured = {f.task_id for f in findings if f.issue_type in MEASURES}
    ranges = _ranges(tasks, measured, store) if measured else None
    sections: dict[int, list[Section]] = defaultdict(list)
    for f in sorted(findings, key=lambda f: (f.task_id, -f.score, f.issue_type)):
        if f.issue_type in LABEL_TYPES:
            section = _label_section(f, project, by_id, labels, neighbours.get(f.task_id, []))
        elif f.issue_type in DUPLICATE_TYPES:
            section = _duplicate_section(f, project, by_id, labels, groups)
        elif f.issue_type in MEASURES and ranges is not None:
            section = _quality_section(f, ranges)
        else:
            section = Section(_title(f.issue_type), f.score, details=f.details)
        sections[f.task_id].append(section)
    return {
        task_id: render_panel(s, fingerprint=fingerprints[task_id], as_of=as_of)
        for task_id, s in sections.items()
    }


def _title(issue_type: str) -> str:
    return TITLES.get(issue_type, issue_type.replace("_", " ").capitalize())


def _label_section(
    f: Finding,
    project: int,
    by_id: dict[int, TaskRow],
    labels: dict[int, str],
    near: list[tuple[int, float]],
) -> Section:
    facts = [("given label", f.given_label or "none")]
    if f.suggested_label:
        p = re.search(rf"p\({re.escape(f.suggested_label)}\)=([0-9.]+)", f.details)
        facts.append(("suggested label", f.suggested_label + (f" (p = {p.group(1)})" if p else "")))
    tiles = [
        Tile(f"{labels[t] or 'unlabelled'} · {sim:.2f}", by_id[t].image, task_link(project, t))
        for t, sim in near
    ]
    if tiles:
        facts.append(("nearest labelled tasks", "label · cosine similarity"))
    return Section(_title(f.issue_type), f.score, facts, tiles, f.details)


def _duplicate_section(
    f: Finding,
    project: int,
    by_id: dict[int, TaskRow],
    labels: dict[int, str],
    groups: dict[str, set[int]],
) -> Section:
    named = [int(m) for m in _TASK_ID.findall(f.details)]
    mates = sorted(groups.get(f.group or "", set()))
    partners = [t for t in dict.fromkeys(named + mates) if t != f.task_id and t in by_id]
    tiles = [
        Tile(f"task {t} · {labels[t] or 'unlabelled'}", by_id[t].image, task_link(project, t))
        for t in partners[:PARTNERS]
    ]
    facts = []
    match = _MATCH.search(f.details)
    if match:
        inliers, matches, ratio, mirrored, scale = match.groups()
        facts += [
            ("RANSAC inliers", f"{inliers} of {matches} ORB matches ({ratio}%)"),
            ("mirrored", "yes" if mirrored else "no"),
            ("scale", scale),
        ]
    details = f.details.split(", H=[", 1)[0]  # the homography matrix is noise to a reviewer
    return Section(_title(f.issue_type), f.score, facts, tiles, details)


def _quality_section(f: Finding, ranges: dict[str, tuple[str, np.ndarray, float]]) -> Section:
    name, values, value = ranges.get(f"{f.issue_type}:{f.task_id}", ("", np.array([]), np.nan))
    if not len(values) or not np.isfinite(value):
        return Section(_title(f.issue_type), f.score, details=f.details)
    percentile = 100.0 * float(np.mean(values <= value))
    facts = [
        (name, f"{value:.3g}"),
        ("percentile in this project", f"{percentile:.0f}"),
        (
            "project range",
            f"min {values.min():.3g} · median {np.median(values):.3g} · max {values.max():.3g}",
        ),
    ]
    return Section(_title(f.issue_type), f.score, facts, details=f.details)


def _ranges(
    tasks: list[TaskRow], flagged: set[int], store: FeatureStore
) -> dict[str, tuple[str, np.ndarray, float]]:
    """``"<check>:<task id>"`` -> (measure name, the project's values, the task's value), for
    the ``flagged`` tasks."""
    shas = {t.sha256 for t in tasks if t.sha256}
    frame = store.images_frame()
    frame = frame[frame["sha256"].isin(shas) & frame["error_kind"].isna()]
    frame = frame.set_index("sha256")
    out = {}
    for check, (name, measure) in MEASURES.items():
        try:
            values = measure(frame).astype(float)
        except KeyError:
            continue
        clean = values[np.isfinite(values)].to_numpy()
        for t in tasks:
            if t.task_id in flagged and t.sha256 in values.index:
                out[f"{check}:{t.task_id}"] = (name, clean, float(values.loc[t.sha256]))
    return out


def _neighbours(
    tasks: list[TaskRow],
    labels: dict[int, str],
    queries: set[int],
    store: FeatureStore,
    model_id: str | None,
) -> dict[int, list[tuple[int, float]]]:
    """Query task -> its nearest labelled tasks (task id, cosine), other contents only."""
    if not queries or model_id is None:
        return {}
    pool = [t for t in tasks if t.sha256 and labels.get(t.task_id)]
    shas, vectors = store.embeddings(model_id, sorted({t.sha256 for t in pool}))
    row = {sha: i for i, sha in enumerate(shas)}
    pool = [t for t in pool if t.sha256 in row]
    asked = [t for t in tasks if t.task_id in queries and t.sha256 in row]
    if not pool or not asked:
        return {}
    vectors = np.asarray(vectors, np.float32)
    ids = np.array([t.task_id for t in pool])
    pool_rows = np.array([row[t.sha256] for t in pool])
    base = vectors[pool_rows]
    k = min(NEIGHBOURS, len(pool))
    out = {}
    for a in range(0, len(asked), BLOCK):  # bounded memory: BLOCK x pool similarities
        block = asked[a : a + BLOCK]
        rows = np.array([row[t.sha256] for t in block])
        sims = vectors[rows] @ base.T
        sims[rows[:, None] == pool_rows[None, :]] = -np.inf  # copies say nothing of labels
        for i, t in enumerate(block):
            top = np.argpartition(-sims[i], k - 1)[:k]
            order = top[np.lexsort((ids[top], -sims[i, top]))]
            found = [j for j in order if np.isfinite(sims[i, j])]
            out[t.task_id] = [(int(ids[j]), float(sims[i, j])) for j in found]
    return out
