"""Stream every planned image once: read its bytes, check they are still the audited content,
write the loose file (folders, or ``images/<split>/`` for manifest/COCO/YOLO) and append it to
the WebDataset shards. Images that cannot be read, or whose bytes changed since they were
hashed, are excluded here with the reason, not written half."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sync.export.formats.webdataset import ShardWriter
from sync.export.plan import ExportPlan
from winnow.errors import ImageError
from winnow.imageio import sniff_format
from winnow.progress import Advance

Resolver = Callable[[pd.Series], bytes]  # a records row -> the image's bytes
EXTENSIONS = {
    "JPEG": ".jpg",
    "PNG": ".png",
    "GIF": ".gif",
    "TIFF": ".tif",
    "BMP": ".bmp",
    "WEBP": ".webp",
    "PPM": ".ppm",
    "JPEG2000": ".jp2",
    "ICO": ".ico",
    "AVIF": ".avif",
    "HEIF": ".heic",
    "QOI": ".qoi",
    "PSD": ".psd",
}


@dataclass
class WrittenImages:
    items: pd.DataFrame  # plan items that made it, plus path, shard, n_bytes
    excluded: pd.DataFrame  # policy.EXCLUSION_COLUMNS, for images that failed here


def write_images(
    plan: ExportPlan,
    root: Path,
    resolve: Resolver,
    *,
    shard_bytes: int,
    advance: Advance | None = None,
) -> WrittenImages:
    """Write the images of ``plan`` under ``root``; see the module docstring."""
    classes = sorted({label for labels in plan.items["labels"] for label in labels})
    index = {name: i for i, name in enumerate(classes)}
    shards: dict[str, ShardWriter] = {}
    rows, dropped = [], []
    loose = any(f in plan.formats for f in ("folders", "coco", "yolo")) or (
        "webdataset" not in plan.formats
    )
    try:
        for _, item in plan.items.iterrows():
            data, problem = _read(item, resolve)
            if problem is not None:
                dropped.append({**_exclusion(item), **problem})
            else:
                rows.append(_place(plan, item, data, root, loose, shards, shard_bytes, index))
            if advance is not None:
                advance(1)
    finally:
        for writer in shards.values():
            writer.close()
    items = pd.DataFrame(rows, columns=[*plan.items.columns, "path", "shard", "n_bytes"])
    excluded = pd.DataFrame(dropped, columns=list(plan.excluded.columns))
    return WrittenImages(items=items, excluded=excluded)


def _read(item: pd.Series, resolve: Resolver) -> tuple[bytes, dict[str, str] | None]:
    try:
        data = resolve(item)
    except ImageError as exc:
        return b"", {"reason": "unreadable", "detail": f"{exc.kind}: {exc.reason}"}
    digest = hashlib.sha256(data).hexdigest()
    if digest != item["sha256"]:
        return b"", {
            "reason": "changed",
            "detail": f"bytes now hash to {digest[:12]}..., not the audited content",
        }
    return data, None


def _exclusion(item: pd.Series) -> dict[str, object]:
    return {
        "task_id": item["task_id"],
        "image": item["image"],
        "sha256": item["sha256"],
        "labels": item["labels"],
    }


def _place(
    plan: ExportPlan,
    item: pd.Series,
    data: bytes,
    root: Path,
    loose: bool,
    shards: dict[str, ShardWriter],
    shard_bytes: int,
    index: dict[str, int],
) -> dict:
    ext = file_extension(data, str(item["image"]))
    name = f"{item['sha256'][:16]}{ext}"
    split = str(item["split"])
    row = item.to_dict()
    row.update(path=None, shard=None, n_bytes=len(data))
    if loose:
        folder = (
            f"{safe_name(split)}/{safe_name(item['labels'][0])}"
            if "folders" in plan.formats
            else f"images/{safe_name(split)}"
        )
        row["path"] = f"{folder}/{name}"
        target = root / row["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if "webdataset" in plan.formats:
        writer = shards.setdefault(
            split, ShardWriter(root / "shards", split, max_bytes=shard_bytes)
        )
        single = plan.kind == "classification"
        meta = {
            "sha256": item["sha256"],
            "labels": list(item["labels"]),
            "split": split,
            "task_id": int(item["task_id"]),
            "source": _text(item.get("source")),
            "licence": _text(item.get("licence")),
            "class_index": index[item["labels"][0]] if single else None,
        }
        row["shard"] = "shards/" + writer.add(item["sha256"][:16], ext, data, meta)
    return row


def safe_name(name: str) -> str:
    """A label or split as one path component: no separators, no "." or ".." tricks."""
    cleaned = re.sub(r"[/\\\x00]", "_", str(name)).strip()
    return cleaned if cleaned not in ("", ".", "..") else f"_{cleaned}"


def file_extension(data: bytes, image: str) -> str:
    """From the content (so a PNG named .jpg is written as .png), else the source's suffix."""
    found = EXTENSIONS.get(sniff_format(data) or "")
    if found:
        return found
    suffix = Path(image.split("?", 1)[0]).suffix.lower()
    return suffix if 1 < len(suffix) <= 6 else ".bin"


def _text(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)
