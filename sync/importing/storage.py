"""How Label Studio gets at the images: a local import storage over a folder (served at
``/data/local-files/?d=<path under the document root>``) or an S3 import storage over a
bucket prefix. Storages are reused when the project already has a matching one.

Label Studio serves local files only from under its ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT``.
Winnow needs that root to write ``?d=`` paths: it comes from ``label_studio.files_root``, or is
found by asking Label Studio for one real file under each ancestor of the folder; either way
one file is fetched back through Label Studio before any task is written.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from label_studio_sdk import LabelStudio

from winnow.config import Settings
from winnow.errors import ConfigError, ImageError, LabelStudioError
from winnow.imageio import ImageReader
from winnow.labelstudio.calls import ls_call

LOCAL_FILES_PREFIX = "/data/local-files/?d="
ROOT_ENV = "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"
SETUP_HINT = (
    f"Label Studio serves local files only from sub-folders of its {ROOT_ENV}. Set {ROOT_ENV} "
    "on the Label Studio server to a parent folder of {folder} (and "
    "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true), restart it, and set "
    "WINNOW_LABEL_STUDIO__FILES_ROOT to the same folder; or move the images under the root."
)


def local_files_url(path: Path, files_root: Path) -> str:
    """The task URL Label Studio serves ``path`` at, given its document root."""
    rel = Path(path).resolve().relative_to(Path(files_root).resolve())
    return LOCAL_FILES_PREFIX + quote(rel.as_posix(), safe="/")


def ensure_local_storage(ls: LabelStudio, project_id: int, folder: Path) -> None:
    """A local import storage covering ``folder`` (an existing one on a parent counts)."""
    folder = folder.resolve()
    existing = ls_call("list local storages", ls.import_storage.local.list, project=project_id)
    if any(s.path and folder.is_relative_to(Path(s.path)) for s in existing):
        return
    try:
        ls_call(
            f"add a local storage for {folder}",
            ls.import_storage.local.create,
            project=project_id,
            path=str(folder),
            use_blob_urls=True,
            title=f"winnow {folder.name}"[:250],
            recursive_scan=True,
        )
    except LabelStudioError as exc:
        raise LabelStudioError(f"{exc}\n{SETUP_HINT.format(folder=folder)}") from exc


def resolve_files_root(settings: Settings, folder: Path, sample: Path) -> Path:
    """Label Studio's document root: configured, or found by fetching ``sample`` back."""
    folder = folder.resolve()
    configured = settings.label_studio.files_root
    if configured is not None:
        root = configured.resolve()
        if folder == root or not folder.is_relative_to(root):
            raise ConfigError(
                f"{folder} is not inside Label Studio's document root {root} "
                f"(WINNOW_LABEL_STUDIO__FILES_ROOT). " + SETUP_HINT.format(folder=folder)
            )
        check_served(settings, sample, root)
        return root
    expected = sample.read_bytes()
    with ImageReader(settings.io, settings.label_studio) as reader:
        for root in [folder, *folder.parents]:
            try:
                if reader.read(local_files_url(sample, root)) == expected:
                    return root
            except ImageError:
                continue
    raise LabelStudioError(
        f"Label Studio at {settings.label_studio.url} does not serve {sample} under any "
        f"parent folder. " + SETUP_HINT.format(folder=folder)
    )


def check_served(settings: Settings, sample: Path, root: Path) -> None:
    """Fetch ``sample`` through Label Studio and compare; a clear error if it is not served."""
    url = local_files_url(sample, root)
    with ImageReader(settings.io, settings.label_studio) as reader:
        try:
            served = reader.read(url)
        except ImageError as exc:
            raise LabelStudioError(
                f"Label Studio does not serve {url} ({exc.reason}). "
                + SETUP_HINT.format(folder=sample.parent)
            ) from exc
    if served != sample.read_bytes():
        raise LabelStudioError(
            f"Label Studio serves different bytes at {url} than {sample}: its {ROOT_ENV} is "
            f"not {root}. " + SETUP_HINT.format(folder=sample.parent)
        )


def ensure_s3_storage(
    ls: LabelStudio, project_id: int, bucket: str, prefix: str, settings: Settings
) -> None:
    """An S3 import storage for ``bucket``/``prefix`` with Winnow's S3 endpoint and keys.

    Label Studio then resolves the tasks' ``s3://`` URLs itself, proxying the bytes
    (``presign=False``), so browsers need no route to the bucket.
    """
    existing = ls_call("list S3 storages", ls.import_storage.s3.list, project=project_id)
    if any(s.bucket == bucket and (s.prefix or "") == prefix for s in existing):
        return
    s3 = settings.s3
    keys = {}
    if s3.access_key_id is not None and s3.secret_access_key is not None:
        keys = {
            "aws_access_key_id": s3.access_key_id.get_secret_value(),
            "aws_secret_access_key": s3.secret_access_key.get_secret_value(),
        }
    endpoint = {"s3endpoint": s3.endpoint_url} if s3.endpoint_url else {}
    ls_call(
        f"add an S3 storage for s3://{bucket}/{prefix}",
        ls.import_storage.s3.create,
        project=project_id,
        bucket=bucket,
        prefix=prefix,
        region_name=s3.region,
        presign=False,
        use_blob_urls=True,
        recursive_scan=True,
        title=f"winnow s3://{bucket}/{prefix}"[:250],
        **keys,
        **endpoint,
    )
