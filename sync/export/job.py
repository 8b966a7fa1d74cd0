"""``export_dataset``: records frame in, one published, verifiable version out.

Plan (policy, splits) -> stream the images into a staging directory (loose files, shards)
-> manifest, exclusions, COCO/YOLO, dataset card -> ``checksums.sha256`` -> publish (a local
rename, or an S3 upload with the manifest last). Nothing is visible until the last step.

The whole run holds the destination's lock (``Target.lock``): a second export to the same
place is refused at once with ``LockBusyError`` instead of picking the same version. Exported
tables carry image addresses without credentials (``sync.export.redact``).
"""

from __future__ import annotations

import datetime as dt
import io
import shlex
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from sync.export.card import CardInput, render_card
from sync.export.changelog import diff_manifests
from sync.export.checksums import build_manifest, write_checksums
from sync.export.formats.detection import write_coco, write_yolo
from sync.export.formats.manifest import write_exclusions, write_manifest
from sync.export.images import Resolver, WrittenImages, write_images
from sync.export.plan import ExportOptions, ExportPlan, make_plan
from sync.export.redact import redact_columns
from sync.export.targets import Target, check_version, next_version, open_target, version_key
from winnow import __version__
from winnow.config import Settings
from winnow.errors import ConfigError, WinnowError
from winnow.progress import ProgressFactory, no_progress


@dataclass
class ExportResult:
    url: str  # the published version: <dest>/v<version>
    version: str
    kind: str
    formats: tuple[str, ...]
    manifest: pd.DataFrame
    excluded: pd.DataFrame
    files: int
    bytes: int
    seconds: float


@dataclass
class _Context:
    """What one export run knows besides the plan: where, which version, what came before."""

    dest: str
    version: str
    before: str | None
    previous: pd.DataFrame | None
    options: ExportOptions
    title: str
    source: list[str] | None
    measurements: pd.DataFrame | None


def export_dataset(
    frame: pd.DataFrame,
    dest: str,
    *,
    settings: Settings,
    resolve: Resolver,
    options: ExportOptions | None = None,
    version: str | None = None,
    title: str = "Image data set",
    source: list[str] | None = None,
    measurements: pd.DataFrame | None = None,
    progress: ProgressFactory | None = None,
) -> ExportResult:
    """Export ``frame`` (the project-frame contract) to ``dest`` (a directory or
    s3://bucket/prefix) as a new version. ``resolve`` reads a record's image bytes;
    ``source`` is the CLI arguments that rebuild ``frame`` (``["--project", "3"]``);
    ``measurements`` (sha256 + blur, brightness, ...) feed the card's per-split statistics."""
    start = time.perf_counter()
    progress = progress or no_progress
    options = replace(options or ExportOptions(), settings=settings.export)
    target = open_target(dest, settings)
    with target.lock():  # held from choosing the version to publishing it
        published = target.versions()
        version = check_version(version) if version else next_version(published)
        if version in published:
            raise ConfigError(f"version {version} is already published at {dest}")
        before = previous_version(published, version)
        ctx = _Context(
            dest,
            version,
            before,
            read_manifest(target, before),
            options,
            title,
            source,
            measurements,
        )
        public = redact_columns(frame, ("source",))  # `image` stays whole: it is read
        plan = make_plan(public, options, previous=ctx.previous)
        staging = target.staging_dir(version)
        try:
            with progress("images", len(plan.items)) as advance:
                shard_bytes = settings.export.shard_size_mb * 1024 * 1024
                written = write_images(
                    plan, staging, resolve, advance=advance, shard_bytes=shard_bytes
                )
            manifest, excluded = _write_tables(plan, written, staging, ctx)
            record = _seal(staging, plan, manifest, excluded, ctx)
            with progress("publish", len(record["files"])) as advance:
                target.publish(staging, version, record, advance)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # gone already after a local rename
        return ExportResult(
            url=f"{target.url}/v{version}",
            version=version,
            kind=plan.kind,
            formats=plan.formats,
            manifest=manifest,
            excluded=excluded,
            files=len(record["files"]),
            bytes=sum(f["size"] for f in record["files"].values()),
            seconds=time.perf_counter() - start,
        )


def _write_tables(
    plan: ExportPlan, written: WrittenImages, staging: Path, ctx: _Context
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Manifest, exclusions, COCO/YOLO and the dataset card."""
    both = pd.concat([plan.excluded, written.excluded], ignore_index=True)
    excluded = redact_columns(both, ("image", "detail"))  # no presigned credentials
    if written.items.empty:
        raise WinnowError(
            f"nothing to export: all {len(plan.records)} records were left out "
            f"({excluded['reason'].value_counts().to_dict()})"
        )
    single = plan.kind == "classification"
    manifest = write_manifest(written.items, staging, single_label=single)
    write_exclusions(excluded, staging)
    if "coco" in plan.formats:
        write_coco(written.items, staging)
    if "yolo" in plan.formats:
        write_yolo(written.items, staging)
    s = ctx.options.settings
    card = CardInput(
        title=ctx.title,
        version=ctx.version,
        kind=plan.kind,
        created_at=_now(),
        manifest=manifest,
        exclusions=excluded,
        records=plan.records,
        fractions=s.split_fractions,
        seed=s.seed,
        exclude_flags=list(s.exclude_flags),
        rebuild=rebuild_command(ctx.source, ctx.dest, ctx.version, plan.formats, ctx.options),
        changelog=diff_manifests(ctx.previous, manifest, ctx.before),
        measurements=ctx.measurements,
    )
    (staging / "DATASET_CARD.md").write_text(render_card(card))
    return manifest, excluded


def _seal(
    staging: Path, plan: ExportPlan, manifest: pd.DataFrame, excluded: pd.DataFrame, ctx: _Context
) -> dict:
    """checksums.sha256 over every file, and the version manifest that lists them."""
    sums = write_checksums(staging)
    info = {
        "version": ctx.version,
        "created_at": _now(),
        "kind": plan.kind,
        "formats": list(plan.formats),
        "images": len(manifest),
        "excluded": len(excluded),
        "previous": ctx.before,
        "winnow": __version__,
        "splits": manifest["split"].value_counts().to_dict(),
    }
    return build_manifest(staging, sums, info)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def rebuild_command(
    source: list[str] | None,
    dest: str,
    version: str,
    formats: tuple[str, ...],
    options: ExportOptions,
) -> str:
    """The exact command that rebuilds this version, with the settings it depends on."""
    args = [
        "winnow",
        "export",
        *(source or ["--project", "<id>"]),
        "--out",
        dest,
        "--version",
        version,
        "--format",
        ",".join(formats),
    ]
    if options.group_by:
        args += ["--group-by", options.group_by]
    if options.time_aware:
        args.append("--time-aware")
    if options.kind:
        args += ["--kind", options.kind]
    s = options.settings
    return (
        f"{shlex.join(args)}\n# with export.seed={s.seed}, export.split_fractions="
        f"{s.split_fractions}, export.exclude_flags={s.exclude_flags}"
    )


def previous_version(published: list[str], version: str) -> str | None:
    """The newest published version older than ``version``."""
    older = [v for v in published if version_key(v) < version_key(version)]
    return max(older, key=version_key) if older else None


def read_manifest(target: Target, version: str | None) -> pd.DataFrame | None:
    if version is None:
        return None
    data = target.read(version, "manifest.parquet")
    return None if data is None else pd.read_parquet(io.BytesIO(data))
