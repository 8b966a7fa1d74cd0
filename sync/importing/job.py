"""``winnow import``: one source (folder, URL list, S3 prefix) into one Label Studio project.

Steps: plan the source (no I/O beyond listing) -> find or create the project, add new
classes, connect the ML backend -> index what the project holds -> drop sources it already
has -> download (URL lists) -> compute features into the store (so everything later is a
cache hit; unreadable and non-image content is skipped here with its reason) -> drop content
the project or this batch already has -> set up the storage Label Studio reads from ->
import tasks with their annotations in batches -> write the import log. A second run over
the same source finds everything in the index and changes nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from label_studio_sdk import LabelStudio

from sync.importing import image_refs
from sync.importing.content import check_content, drop_duplicates, label_conflicts
from sync.importing.folder import plan_folder
from sync.importing.project import ensure_ml_backend, ensure_project, load_index
from sync.importing.provenance import (
    Candidate,
    Plan,
    Skip,
    SourceKind,
    imported_entry,
    iso_time,
    skipped_entry,
)
from sync.importing.s3_prefix import MAX_PRESIGN_TTL_S, S3Mode, plan_s3
from sync.importing.summary import ImportSummary
from sync.importing.tasks import BATCH_SIZE, build_task, push_tasks
from sync.importing.url_list import download_candidates, plan_url_list
from winnow.config import Settings
from winnow.errors import ConfigError
from winnow.features.walk import Layout
from winnow.ingest.download import DownloadPolicy
from winnow.labelstudio import connect
from winnow.labelstudio.label_config import LabelControl, TaskKind
from winnow.models.embedder import Embedder
from winnow.progress import ProgressFactory, no_progress
from winnow.store.import_log import ImportLog


@dataclass(frozen=True)
class ImportOptions:
    source: str  # a folder, a URL-list file, or s3://bucket/prefix/
    project: str  # title (created if new) or numeric id
    layout: Layout = "auto"
    task: TaskKind = "classification"
    multi_label: bool = False
    label_table: Path | None = None  # folders: labels.csv; default folder/labels.csv if present
    licence: str | None = None  # for images whose source gives none
    author: str | None = None
    embed: bool = False
    url_mode: Literal["copy", "link"] = "copy"
    download_dir: Path | None = None
    s3_mode: S3Mode = "storage"
    presign_ttl_s: int = MAX_PRESIGN_TTL_S
    policy: DownloadPolicy = field(default_factory=DownloadPolicy)
    batch_size: int = BATCH_SIZE


def source_kind(source: str) -> SourceKind:
    if source.startswith("s3://"):
        return "s3"
    path = Path(source)
    if path.is_dir():
        return "folder"
    if path.is_file():
        return "url_list"
    raise ConfigError(f"{source} is not a folder, a URL-list file or an s3:// prefix")


def run_import(
    opts: ImportOptions,
    *,
    settings: Settings,
    ls: LabelStudio | None = None,
    progress: ProgressFactory | None = None,
) -> ImportSummary:
    """Import ``opts.source`` into ``opts.project``; see the module docstring for the steps."""
    progress = progress or no_progress
    started = time.perf_counter()
    plan = _plan(opts, settings)
    ls = ls or connect(settings.label_studio)
    summary, run, fresh = _prepare_project(ls, plan, opts, settings)
    if plan.kind == "url_list":
        with summary.timed("download"), progress("download", len(fresh)) as advance:
            known = {sha: f"task {task_id}" for sha, task_id in run.index_by_sha.items()}
            fresh, failed = download_candidates(
                fresh,
                io=settings.io,
                policy=opts.policy,
                known=known,
                progress=advance,
                dest=image_refs.download_dir(opts, settings),
                link=opts.url_mode == "link",
            )
        summary.skipped += failed
    with summary.timed("features"):
        embedder = _embedder(opts, settings)
        fresh, unusable = check_content(
            fresh,
            settings=settings,
            embedder=embedder,
            progress=progress("features", len(fresh)),
            trusted_roots=_own_folders(plan, fresh),
        )
    kept, duplicates = drop_duplicates(fresh, run.index_by_sha)
    summary.skipped += unusable + duplicates
    with summary.timed("label_studio"):
        _push(ls, kept, summary, run.control, opts, settings, progress)
    summary.seconds["total"] = time.perf_counter() - started
    return summary


def _own_folders(plan: Plan, fresh: list[Candidate]) -> tuple[Path, ...]:
    """Folders of the local files this import chose itself: the scanned folder's images, or
    the downloads it saved. An S3 import reads no local file."""
    if plan.kind not in ("folder", "url_list"):
        return ()
    return tuple(sorted({Path(c.read_uri).parent for c in fresh if c.read_uri}))


def _plan(opts: ImportOptions, settings: Settings) -> Plan:
    kind = source_kind(opts.source)
    common = {"licence": opts.licence, "author": opts.author}
    if kind == "folder":
        plan = plan_folder(
            Path(opts.source), layout=opts.layout, label_table=opts.label_table, **common
        )
    elif kind == "url_list":
        plan = plan_url_list(Path(opts.source), **common)
    else:
        plan = plan_s3(
            opts.source,
            settings=settings,
            layout=opts.layout,
            mode=opts.s3_mode,
            presign_ttl_s=opts.presign_ttl_s,
            **common,
        )
    if kind == "folder":
        image_refs.check_under_files_root(Path(opts.source), settings)
    if kind == "url_list" and opts.url_mode == "copy":
        image_refs.check_under_files_root(image_refs.download_dir(opts, settings), settings)
    if plan.considered == 0:
        raise ConfigError(f"{opts.source} holds no images to import")
    several = [c.source for c in plan.candidates if len(c.labels) > 1]
    if several and not opts.multi_label and opts.task == "classification":
        raise ConfigError(
            f"{len(several)} images have several labels (first: {several[0]}); "
            "pass --multi-label for a multi-label project"
        )
    return plan


@dataclass(frozen=True)
class _Target:
    control: LabelControl  # where imported labels go
    index_by_sha: dict[str, int]  # content the project already holds -> task id


def _prepare_project(
    ls: LabelStudio, plan: Plan, opts: ImportOptions, settings: Settings
) -> tuple[ImportSummary, _Target, list[Candidate]]:
    """Project, ML backend and index; returns the summary, known content and new sources."""
    t0 = time.perf_counter()
    target = ensure_project(
        ls, opts.project, labels=plan.labels, task=opts.task, multi_label=opts.multi_label
    )
    if settings.label_studio.ml_backend_url:
        ensure_ml_backend(
            ls, target.id, settings.label_studio.ml_backend_url, auth=_backend_auth(settings)
        )
    index = load_index(ls, target.id)
    summary = ImportSummary(
        project_id=target.id,
        project_title=target.title,
        source_kind=plan.kind,
        project_url=f"{settings.label_studio.url}/projects/{target.id}",
        layout=plan.layout,
        created_project=target.created,
        labels_added=list(target.labels_added),
        considered=plan.considered,
        ignored_files=plan.ignored_files,
        skipped=list(plan.skipped),
        seconds={"label_studio": time.perf_counter() - t0},
        display_root=str(Path(opts.source).resolve()) + "/" if plan.kind == "folder" else "",
    )
    fresh = []
    for candidate in plan.candidates:
        task_id = index.by_source.get(candidate.source)
        if task_id is None:
            fresh.append(candidate)
        else:
            summary.skipped.append(
                Skip(
                    candidate.source,
                    "already_imported",
                    f"task {task_id}",
                    candidate.sha256,
                    candidate.labels,
                )
            )
    return summary, _Target(target.control, index.by_sha), fresh


def _backend_auth(settings: Settings) -> tuple[str, str] | None:
    user, password = settings.backend.basic_auth_user, settings.backend.basic_auth_password
    return (user, password.get_secret_value()) if user and password else None


def _embedder(opts: ImportOptions, settings: Settings) -> Embedder | None:
    if not opts.embed:
        return None
    from winnow.models import make_embedder  # torch: imported only when embedding

    return make_embedder(settings.embedding)


def _push(
    ls: LabelStudio,
    kept: list[Candidate],
    summary: ImportSummary,
    control: LabelControl,
    opts: ImportOptions,
    settings: Settings,
    progress: ProgressFactory,
) -> None:
    """Import the tasks batch by batch; each batch is logged as soon as Label Studio has it,
    so an interrupted import leaves an exact log of what got in."""
    project_key = f"{settings.label_studio.url}#{summary.project_id}"
    with ImportLog(settings.store_path) as log:
        log.record(
            skipped_entry(project_key, summary.source_kind, s)
            for s in summary.skipped
            if s.reason != "already_imported"
        )
        if not kept:
            return
        refs = image_refs.image_refs(ls, summary.project_id, kept, opts, settings)
        imported_at = iso_time(time.time())
        flags = label_conflicts(kept, summary.skipped)
        tasks = [
            build_task(
                c,
                image_ref=ref,
                sha256=c.sha256 or "",
                control=control,
                imported_at=imported_at,
                flags=flags.get(c.sha256 or "", []),
            )
            for c, ref in zip(kept, refs, strict=True)
        ]
        with progress("Label Studio", len(tasks)) as advance:
            for start in range(0, len(tasks), opts.batch_size):
                batch = slice(start, start + opts.batch_size)
                ids = push_tasks(ls, summary.project_id, tasks[batch], batch_size=opts.batch_size)
                log.record(
                    imported_entry(project_key, c, c.sha256 or "", task_id)
                    for c, task_id in zip(kept[batch], ids, strict=True)
                )
                summary.imported += len(ids)
                advance(len(ids))
    summary.annotations = sum(len(t.get("annotations", [])) for t in tasks)
    for task in tasks:
        summary.flags.update(task["data"].get("winnow_flags", []))
