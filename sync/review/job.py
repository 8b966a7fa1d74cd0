"""``winnow sync``: pull -> content -> reviewer decisions -> audit -> push -> views.

Each step commits to the sync state as it goes. A run killed at any point and started again
pulls what changed (its own unrecorded writes included), recomputes the same findings from the
same inputs, and writes only the differences: the end state equals one clean run.

A sync when nothing changed in Label Studio does nothing: the pull lists ids and timestamps
only and re-reads no task (the sync's own writes stored the ``updated_at`` they produced), the
audit is skipped because its inputs' fingerprint equals the stored one
(:mod:`sync.review.audit_inputs`), no evidence panel is built (every written one is still
current: :func:`sync.review.push.panels_wanted`), and the push finds nothing to write. When
only labels changed, the audit refits the label-issue model and reuses what content decides
(duplicates, quality, outliers, PII); ``SyncSummary.audit_work`` says which.

One sync per project at a time (``sync_lock``, a lock file under ``data_dir/locks``): a second
``winnow sync`` of a project that is being synced stops at once with ``LockBusyError``
(``--watch`` reports it and tries again next round), since two runs would interleave their
writes to Label Studio and to the sync state. ``pull_project`` (the refresh before an export,
index or report) waits for a running sync instead, up to ``PULL_WAIT_S``.
"""

from __future__ import annotations

import resource
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pandas as pd
from label_studio_sdk import LabelStudio

from analysis.findings import ISSUE_COLUMNS
from sync.audit.folder import audit_options
from sync.audit.pixels import flush_measures
from sync.review.agreement import disagreement_issues, ontology_warnings, project_kappa
from sync.review.audit_inputs import (
    AuditPart,
    AuditRecord,
    audit_key,
    changed,
    last_audit,
    last_part,
    part_inputs,
    part_key,
    remember_audit,
    remember_part,
)
from sync.review.audit_project import audit_table, audit_tasks, content_issues, label_issues
from sync.review.batch_log import batch_annotations, log_path
from sync.review.content import read_errors, resolve_content
from sync.review.decisions import DecisionReport, Verdicts, record_decisions, review_checks
from sync.review.evidence import review_evidence
from sync.review.label_refit import load_probe, probe_path, reusable_probe, save_probe
from sync.review.meter import CountingClient, Meter
from sync.review.pii import pii_issues
from sync.review.pull import PullReport, image_key_of, label_control, pull
from sync.review.push import PushReport, panels_wanted, push_all
from sync.review.queues import ALL_FLAGGED, QUEUES, queue_of
from sync.review.spot_check import spot_check_findings
from sync.review.state import Finding, SyncState, state_path
from sync.review.views import ensure_views, queue_notes, queue_url, with_checks
from winnow.config import Settings
from winnow.labelstudio import connect
from winnow.labelstudio.label_config import LabelControl
from winnow.locks import hold
from winnow.progress import ProgressFactory, no_progress
from winnow.store import FeatureStore


@dataclass
class SyncSummary:
    project: int
    pulled: PullReport
    decisions: DecisionReport = field(default_factory=DecisionReport)
    pushed: PushReport = field(default_factory=PushReport)
    findings: dict[str, int] = field(default_factory=dict)  # view title -> flagged tasks
    views: dict[str, str] = field(default_factory=dict)  # view title -> queue URL
    unreadable: int = 0
    kappa: float | None = None  # Fleiss' kappa over tasks with 2+ annotations
    ontology: list[str] = field(default_factory=list)  # class names that look like one
    label_estimate: dict | None = None  # est. precision/recall of the label-issue queues
    label_reviews: dict[str, dict] = field(default_factory=dict)  # queue -> ReviewCheck dict
    audited: bool = True  # False: nothing the audit reads changed; the stored findings stand
    audit_work: str = ""  # what the audit recomputed and what it reused
    panels_built: int = 0  # evidence panels built; the other flagged tasks' panels were current
    meter: Meter = field(default_factory=Meter)  # per-phase seconds and Label Studio calls
    seconds: float = 0.0
    peak_mb: float = 0.0  # the process's peak resident memory so far (ru_maxrss)


PULL_WAIT_S = 600.0  # a refresh before an export waits this long for a running sync


def sync_lock(settings: Settings, project: int, *, wait_s: float = 0.0) -> AbstractContextManager:
    """The lock that keeps two runs from writing one project's state at the same time."""
    path = settings.data_dir / "locks" / f"sync-project-{project}.lock"
    return hold(path, what=f"a sync of project {project}", wait_s=wait_s)


def pull_project(
    settings: Settings,
    project: int,
    *,
    ls: LabelStudio | None = None,
    embed: bool = False,
    progress: ProgressFactory | None = None,
) -> PullReport:
    """Pull ``project`` into the sync state and resolve every task's content hash."""
    with (
        sync_lock(settings, project, wait_s=PULL_WAIT_S),
        SyncState(state_path(settings.data_dir)) as state,
    ):
        return _pull(settings, project, state, ls=ls, embed=embed, progress=progress)[0]


def _pull(
    settings: Settings,
    project: int,
    state: SyncState,
    *,
    ls: LabelStudio | None,
    embed: bool,
    progress: ProgressFactory | None,
) -> tuple[PullReport, str | None]:
    """Pull, then resolve content; returns the report and the embedding model id."""
    progress = progress or no_progress
    ls = ls or connect(settings.label_studio, retries=settings.sync.retries)
    with progress("pull tasks", None) as advance:
        report = pull(ls, project, state, page_size=settings.sync.page_size, advance=advance)
    return report, _resolve(settings, state, project, embed=embed, progress=progress)


def _resolve(
    settings: Settings, state: SyncState, project: int, *, embed: bool, progress: ProgressFactory
) -> str | None:
    """Resolve every task's content; returns the embedding model id (None without)."""
    tasks = state.tasks(project)
    embed = embed and settings.features.embed
    key = f"model_id:{settings.embedding.model_dump_json()}"
    model_id = state.get(key) if embed else None
    embedder = None
    with FeatureStore(settings.store_path) as store:
        if embed and not _all_complete(tasks, store, model_id):
            from winnow.models import make_embedder  # torch: only when something is new

            embedder = make_embedder(settings.embedding)
            model_id = embedder.model_id
            state.put(key, model_id)
        with progress("features", len(tasks)) as advance:
            shas, _ = resolve_content(
                tasks, settings=settings, store=store, embedder=embedder, progress=advance
            )
    state.set_sha256(project, shas)
    return model_id


def _all_complete(tasks: list, store: FeatureStore, model_id: str | None) -> bool:
    """Every task's content known and embedded: building the model (seconds) is not needed.
    The model id is remembered per embedding settings; weights replaced in place at the same
    path are not noticed until a new image arrives."""
    shas = {t.sha256 for t in tasks}
    if model_id is None or None in shas:
        return False
    return store.complete(shas, model_id) == shas


def run_sync(
    settings: Settings,
    project: int,
    *,
    ls: LabelStudio | None = None,
    embed: bool = True,
    dry_run: bool = False,
    refresh_evidence: bool = False,
    progress: ProgressFactory | None = None,
) -> SyncSummary:
    """One full sync of ``project``; see the module docstring. With ``dry_run`` nothing is
    written to Label Studio (the local state is still refreshed) and ``summary.pushed`` says
    what would have been. ``refresh_evidence`` rebuilds every flagged task's evidence panel,
    also those whose findings did not change (:mod:`sync.review.evidence_keep`)."""
    started = time.perf_counter()
    progress = progress or no_progress
    meter = Meter()
    ls = CountingClient(ls or connect(settings.label_studio, retries=settings.sync.retries), meter)
    with sync_lock(settings, project), SyncState(state_path(settings.data_dir)) as state:
        with meter.phase("pull"), progress("pull tasks", None) as advance:
            pulled = pull(ls, project, state, page_size=settings.sync.page_size, advance=advance)
        with meter.phase("content"):
            model_id = _resolve(settings, state, project, embed=embed, progress=progress)
        summary = SyncSummary(project=project, pulled=pulled, meter=meter)
        tasks = state.tasks(project)
        config = state.project_info(project)["label_config"]
        control = label_control(config)
        with meter.phase("audit"):
            machine = batch_annotations(log_path(settings.data_dir), project)
            record = last_audit(state, project)
            summary.decisions = record_decisions(
                state, project, tasks, control, Verdicts(record and record.estimate, machine)
            )
            key = audit_key(
                tasks,
                dismissed=state.dismissed(),
                settings=settings,
                model_id=model_id,
                label_config=config,
            )
            summary.audited = record is None or record.key != key
            if summary.audited:
                findings, record, summary.audit_work = _audit(
                    settings, state, project, tasks, control, model_id, key
                )
            else:
                findings = state.findings(project)
            summary.label_estimate = record.estimate
            summary.kappa, summary.ontology = record.kappa, record.ontology
            checks = review_checks(state.label_reviews(project))
            summary.label_reviews = {q: c.as_dict() for q, c in checks.items()}
        summary.unreadable = sum(f.issue_type == "unreadable" for f in findings)
        with meter.phase("evidence"):
            wanted = panels_wanted(tasks, findings, refresh_evidence=refresh_evidence)
            evidence = (
                review_evidence(
                    settings,
                    project,
                    tasks,
                    findings,
                    control=control,
                    model_id=model_id,
                    only=wanted,
                    as_of=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                )
                if wanted
                else {}
            )
            summary.panels_built = len(evidence)
        with meter.phase("push"), progress("push", None) as advance:
            summary.pushed = push_all(
                ls,
                project,
                tasks,
                findings,
                control=control,
                state=state,
                image_key=image_key_of(config),
                workers=settings.sync.write_concurrency,
                page_size=settings.sync.page_size,
                pace_s=settings.sync.pace_s,
                dry_run=dry_run,
                advance=advance,
                evidence=evidence,
                refresh_evidence=refresh_evidence,
            )
        with meter.phase("views"):
            views = (
                state.views(project)
                if dry_run
                else ensure_views(
                    ls,
                    project,
                    detection=control.tag == "RectangleLabels",
                    state=state,
                    notes=with_checks(record.notes, checks),
                )
            )
        if not dry_run:
            state.update_project(project, last_sync_at=time.time())
    summary.views = {t: queue_url(settings.label_studio.url, project, v) for t, v in views.items()}
    summary.findings = _counts(findings, views)
    summary.seconds = time.perf_counter() - started
    summary.peak_mb = peak_memory_mb()
    return summary


def peak_memory_mb() -> float:
    """This process's peak resident set size in MB (Linux reports ``ru_maxrss`` in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _audit(
    settings: Settings,
    state: SyncState,
    project: int,
    tasks: list,
    control: LabelControl,
    model_id: str | None,
    key: str,
) -> tuple[list[Finding], AuditRecord, str]:
    """Audit the tasks, reusing each part whose inputs did not change (see
    :mod:`sync.review.audit_inputs`); store the findings, then the key that says what they
    were found from. Returns what was recomputed and what reused, for the summary."""
    with FeatureStore(settings.store_path) as store:
        errors = read_errors(tasks, store, settings.label_studio.url)
        table = audit_table(
            tasks,
            control=control,
            split_field=settings.sync.split_field,
            store=store,
            read_errors=errors,
        )
        options = audit_options(settings)
        if control.tag == "Choices" and control.multiple:  # label sets, joined by label_key
            options = replace(options, label_set_separator="|")

        def by_content() -> AuditPart:
            pii = pii_issues(tasks, table, settings) if not table.empty else None
            found = content_issues(table, store=store, model_id=model_id, options=options, pii=pii)
            flush_measures(options)
            return AuditPart("", {}, _records(found))

        content, content_n = _part(
            state, project, "content", table, tasks, model_id, settings, "", by_content
        )
        probe_file = probe_path(settings.data_dir, project)
        refit = LabelRefit()

        def by_labels() -> AuditPart:
            probe, refit.changed = reusable_probe(
                load_probe(probe_file),
                basis=content.key,
                table=table,
                share=settings.sync.label_refit_share,
            )
            found, estimate, used = label_issues(
                table,
                store=store,
                model_id=model_id,
                options=replace(options, label_probe=probe),
            )
            refit.rescored = probe is not None and used is probe
            if used is not None and not refit.rescored:
                save_probe(probe_file, used, content.key)
            notes = queue_notes(estimate)
            return AuditPart("", {}, _records(found), estimate and estimate.as_dict(), notes)

        labels, labels_n = _part(
            state, project, "labels", table, tasks, model_id, settings, content.key, by_labels
        )
        findings = audit_tasks(
            table,
            control=control,
            dismissed=state.dismissed(),
            content=_frame(content.records),
            labels=_frame(labels.records),
            extra=disagreement_issues(tasks, control),
        )
        findings += spot_check_findings(findings, settings.sync.label_spot_check, salt=str(project))
    record = AuditRecord(
        key,
        labels.estimate,
        labels.notes or {},
        project_kappa(tasks, control),  # annotations are in the key: kept beside it
        ontology_warnings(tasks, control),
    )
    state.replace_findings(project, findings)
    remember_audit(state, project, record)
    work = audit_work_line(content_n, labels_n, embedded=model_id is not None, refit=refit)
    return findings, record, work


def _part(
    state: SyncState,
    project: int,
    name: str,
    table: pd.DataFrame,
    tasks: list,
    model_id: str | None,
    settings: Settings,
    under: str,
    compute,
) -> tuple[AuditPart, tuple[int, float] | None]:
    """The stored part when its inputs are unchanged (None: reused), else computed and
    stored (with how many tasks it reads differently, and the seconds it took)."""
    inputs = part_inputs(table, tasks, name) if not table.empty else {}
    key = part_key(inputs, settings=settings, model_id=model_id, under=under)
    before = last_part(state, project, name)
    if before is not None and before.key == key:
        return before, None
    started = time.perf_counter()
    part = replace(compute(), key=key, inputs=inputs)
    remember_part(state, project, name, part)
    return part, (changed(before, inputs), time.perf_counter() - started)


@dataclass
class LabelRefit:
    """How the label part was computed: rescored on the last fit or refitted, and how many
    labels changed since that fit (-1: no fit stored)."""

    rescored: bool = False
    changed: int = -1


def audit_work_line(
    content: tuple[int, float] | None,
    labels: tuple[int, float] | None,
    *,
    embedded: bool,
    refit: LabelRefit | None = None,
) -> str:
    """What the audit recomputed and what it reused, e.g. "label issues refit (100 changed
    labels, 2.1 s); duplicates, quality, outliers, PII reused". Each part: None when reused,
    else (tasks it reads differently, seconds)."""
    done, reused = [], []
    if labels is None:
        reused.append("label issues")
    else:
        how = "refit" if embedded else "not run (no embeddings)"
        since = ""
        if refit is not None and refit.rescored:
            how, since = "rescored on the last fit", f", {refit.changed} since the fit"
        done.append(f"label issues {how} ({labels[0]} changed labels{since}, {labels[1]:.1f} s)")
    if content is None:
        reused.append("duplicates, quality, outliers, PII")
    else:
        done.append(
            f"duplicates, quality, outliers, PII rerun ({content[0]} tasks with new content or "
            f"split, {content[1]:.1f} s; per-content features and detections from the cache)"
        )
    line = "; ".join(done) or "agreement and dismissals only"
    return line + (f"; {', '.join(reused)} reused" if reused else "")


def _records(issues: pd.DataFrame) -> list[dict]:
    return issues[ISSUE_COLUMNS].to_dict("records")


def _frame(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(records, columns=ISSUE_COLUMNS)


def _counts(findings: list, views: dict[str, int]) -> dict[str, int]:
    per_view: dict[str, set[int]] = {title: set() for title in views}
    for f in findings:
        per_view.setdefault(queue_of(f.issue_type).title, set()).add(f.task_id)
        per_view.setdefault(ALL_FLAGGED, set()).add(f.task_id)
    order = [q.title for q in QUEUES] + [ALL_FLAGGED]
    return {t: len(per_view[t]) for t in sorted(per_view, key=order.index)}
