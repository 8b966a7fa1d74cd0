"""The image value each new task gets, after setting up whatever Label Studio needs to
show it: a local storage (folders, downloaded copies) or an S3 storage (S3 prefixes)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from label_studio_sdk import LabelStudio

from sync.importing.provenance import Candidate
from sync.importing.s3_prefix import split_prefix
from sync.importing.storage import (
    SETUP_HINT,
    ensure_local_storage,
    ensure_s3_storage,
    local_files_url,
    resolve_files_root,
)
from winnow.config import Settings
from winnow.errors import ConfigError

if TYPE_CHECKING:
    from sync.importing.job import ImportOptions

DOWNLOADS_FOLDER = "winnow-downloads"


def download_dir(opts: ImportOptions, settings: Settings) -> Path:
    """Where a URL-list import keeps its downloads (under Label Studio's root in copy mode)."""
    if opts.download_dir is not None:
        return opts.download_dir.resolve()
    if opts.url_mode == "link":
        return (settings.data_dir / "downloads").resolve()
    root = settings.label_studio.files_root
    if root is None:
        raise ConfigError(
            "a URL list in copy mode keeps the images where Label Studio can serve them: pass "
            "--download-dir DIR inside Label Studio's LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT, "
            "or set WINNOW_LABEL_STUDIO__FILES_ROOT, or use --url-mode link"
        )
    return (root / DOWNLOADS_FOLDER).resolve()


def check_under_files_root(folder: Path, settings: Settings) -> None:
    """Fail before anything is created when a configured document root cannot serve
    ``folder`` (without a configured root, Label Studio itself is asked later)."""
    root, folder = settings.label_studio.files_root, folder.resolve()
    if root is not None and (folder == root.resolve() or not folder.is_relative_to(root.resolve())):
        raise ConfigError(
            f"{folder} is not inside Label Studio's document root {root.resolve()} "
            "(WINNOW_LABEL_STUDIO__FILES_ROOT). " + SETUP_HINT.format(folder=folder)
        )


def image_refs(
    ls: LabelStudio,
    project_id: int,
    kept: list[Candidate],
    opts: ImportOptions,
    settings: Settings,
) -> list[str]:
    """One task image value per candidate, in order; storages are created as needed."""
    kind = kept[0].provenance.kind
    if kind == "s3" and opts.s3_mode == "storage":
        bucket, prefix = split_prefix(opts.source)
        ensure_s3_storage(ls, project_id, bucket, prefix, settings)
    if all(c.image_ref for c in kept):
        return [c.image_ref or "" for c in kept]
    folder = Path(opts.source) if kind == "folder" else download_dir(opts, settings)
    folder = folder.resolve()
    ensure_local_storage(ls, project_id, folder)
    sample = min((Path(c.read_uri) for c in kept), key=lambda p: p.stat().st_size)
    root = resolve_files_root(settings, folder, sample)
    return [local_files_url(Path(c.read_uri), root) for c in kept]
