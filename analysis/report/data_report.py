"""The data report: everything computed from the audit's tables, then rendered to HTML.

Two steps so that the adapter decodes only the images shown: :func:`build_data_report`
computes the numbers, figures and picks; the caller loads the thumbnails of
:meth:`DataReport.thumbnail_rows`; :func:`render_data_report` writes the page.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.audit import ISSUE_TYPES
from analysis.label_issue_estimate import QueueEstimate
from analysis.label_issue_review import ReviewCheck
from analysis.report import data_figures as figs
from analysis.report import eda, picks
from analysis.report.html import environment, figure_html, plotly_script
from analysis.report.projection import project_2d

# Findings drawn as crosses on the embedding map: those about what an image shows or where it
# belongs (quality checks such as "dark" can cover most of a data set and would hide the map).
MARKED = ("label_issue", "outlier", "near_duplicate", "exact_duplicate", "split_leak")
SECTIONS = ("composition", "metadata", "quality", "galleries", "embeddings", "duplicates", "audit")


@dataclass
class DataReport:
    title: str
    files: pd.DataFrame  # eda.with_groups(audit files)
    issues: pd.DataFrame
    composition: eda.Composition
    balance: pd.Series
    metadata: dict[str, pd.DataFrame]
    channels: pd.DataFrame
    dup_matrix: pd.DataFrame
    audit: pd.DataFrame
    fingerprint: str
    figures: dict[str, go.Figure] = field(default_factory=dict)
    samples: dict[str, list[picks.Pick]] = field(default_factory=dict)
    extremes: dict[str, list[picks.Pick]] = field(default_factory=dict)
    clusters: list[list[picks.Pick]] = field(default_factory=list)
    n_clusters: int = 0
    embedding_note: str = ""
    # how far to trust the label-issue queues (planted flips); None: not estimated
    label_estimate: QueueEstimate | None = None
    # reviewers' verdicts on them (a Label Studio project's sync): check name -> check
    label_reviews: dict[str, ReviewCheck] = field(default_factory=dict)

    def thumbnail_rows(self) -> list[int]:
        """Row indices (into ``files``) of every image the page shows."""
        groups = [*self.samples.values(), *self.extremes.values(), *self.clusters]
        rows = {i for group in groups for i, _ in group}
        rows |= set(self._audit_rows().values())
        return sorted(rows)

    def label_queue_sizes(self) -> dict[str, int]:
        """Files in the "likely" (``label_issue``) and ``possible_label_issue`` queues."""
        counts = self.issues["issue_type"].value_counts()
        return {q: int(counts.get(q, 0)) for q in ("label_issue", "possible_label_issue")}

    def _audit_rows(self) -> dict[str, int]:
        row_of = pd.Series(self.files.index, index=self.files["uri"])
        return {p: int(row_of[p]) for p in self.audit["worst"] if p in row_of.index}


def build_data_report(
    files: pd.DataFrame,
    issues: pd.DataFrame,
    *,
    vectors: np.ndarray | None = None,
    projection: str = "umap",
    title: str = "Data report",
    seed: int = 0,
    label_estimate: QueueEstimate | None = None,
    label_reviews: dict[str, ReviewCheck] | None = None,
) -> DataReport:
    """Compute the report. ``files``/``issues``: :class:`analysis.audit.AuditResult` tables;
    ``vectors`` float ``(N, D)`` aligned with ``files`` (rows of unreadable files ignored);
    ``label_estimate``: the audit's estimate of the label-issue queues' precision and recall,
    shown beside the queues so a reader knows how far to trust them; ``label_reviews``:
    reviewers' verdicts on the queues (check name, e.g. "likely spot check" -> check), which
    test that estimate."""
    f = eda.with_groups(files)
    comp = eda.composition(f)
    report = DataReport(
        title=title,
        files=f,
        issues=issues,
        composition=comp,
        balance=eda.split_balance(f),
        metadata=eda.metadata_summary(f),
        channels=eda.channel_stats(f),
        dup_matrix=eda.duplicate_split_matrix(f),
        audit=eda.audit_summary(issues, len(f), ISSUE_TYPES),
        fingerprint=eda.dataset_fingerprint(f),
        label_estimate=label_estimate,
        label_reviews=dict(label_reviews or {}),
    )
    report.figures = {
        "class_counts": figs.class_counts(comp.counts),
        "class_shares": figs.class_shares(comp.shares),
        "sizes": figs.size_histograms(f),
        "quality": figs.quality_histograms(f),
        "channels": figs.channel_bars(report.channels),
        "duplicates": figs.duplicate_heatmap(report.dup_matrix),
    }
    report.samples = picks.class_samples(f, seed=seed)
    report.extremes = picks.extremes(f, issues)
    clusters = eda.duplicate_clusters(f)
    report.n_clusters = len(clusters)
    report.clusters = picks.cluster_members(f, clusters)
    _add_embeddings(report, vectors, projection, seed)
    return report


def _add_embeddings(report: DataReport, vectors: np.ndarray | None, method: str, seed: int) -> None:
    f = report.files
    usable = f.index[f["readable"]].to_numpy()
    if vectors is None or len(usable) < 3:
        report.embedding_note = "no embeddings: the map needs the embedder's vectors"
        return
    rows, coords = project_2d(np.asarray(vectors)[usable], method=method, seed=seed)
    found = report.issues.groupby("path")["issue_type"].agg(lambda s: ", ".join(sorted(set(s))))
    marked = report.issues[report.issues["issue_type"].isin(MARKED)]["path"].unique()
    report.figures["embeddings"] = figs.embedding_scatter(
        f, usable[rows], coords, found, method, marked=set(marked)
    )
    report.embedding_note = f"{len(rows)} of {len(usable)} readable files, {method.upper()}"


def render_data_report(
    report: DataReport,
    thumbs: dict[int, str],
    *,
    plotlyjs: str = "compressed",
    generated: str | None = None,
) -> str:
    """The page. ``thumbs`` maps row index -> image ``data:`` URI (missing ones show a gap)."""
    template = environment().get_template("data.html.j2")
    f = report.files
    return template.render(
        r=report,
        sections=SECTIONS,
        thumbs=thumbs,
        audit_rows=report._audit_rows(),
        n_files=len(f),
        n_readable=int(f["readable"].sum()),
        n_labels=int((f["label"] != eda.NO_LABEL).sum()),
        fig={name: figure_html(fig, name) for name, fig in report.figures.items()},
        plotly=plotly_script(plotlyjs),
        names=_names(f),
        root=_common_root(f["uri"]),
        generated=generated or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _common_root(uris: pd.Series) -> str:
    """The folder all local files share, cut from evidence text so the page shows no paths
    of the machine that made it."""
    local = [str(u) for u in uris if "://" not in str(u)]
    if not local or len(local) != len(uris):
        return ""
    return os.path.commonpath(local).rstrip("/") + "/"


def _names(files: pd.DataFrame) -> dict[int, str]:
    return {
        int(i): str(u).rsplit("/", 1)[-1] for i, u in zip(files.index, files["uri"], strict=True)
    }
