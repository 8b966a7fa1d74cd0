"""URL lists (CSV, TSV, JSONL, JSON or plain text) parsed into validated rows.

A list gathered from the web is messy: odd column names, stray blanks, a date in some other
format, a row without a URL. Each row is validated on its own; a bad row becomes a
:class:`RowError` naming its line and what is wrong, and never hides the good rows.

Columns (case-insensitive; aliases in brackets): ``url`` [image_url, image], ``label``
[labels, class; several labels separated by ``|`` in CSV, or a JSON list], ``source_page``
[page, page_url, source], ``licence`` [license], ``author`` [creator], ``date`` (ISO 8601).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from winnow.errors import ConfigError

LABEL_SEPARATOR = "|"
_ALIASES = {
    "url": "url",
    "image_url": "url",
    "image": "url",
    "label": "labels",
    "labels": "labels",
    "class": "labels",
    "source_page": "source_page",
    "page": "source_page",
    "page_url": "source_page",
    "source": "source_page",
    "licence": "licence",
    "license": "licence",
    "author": "author",
    "creator": "author",
    "date": "date",
}


class UrlRow(BaseModel):
    """One image to fetch and what is known about where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    line: int
    url: str
    labels: tuple[str, ...] = ()
    source_page: str | None = None
    licence: str | None = None
    author: str | None = None
    date: str | None = None  # normalised ISO 8601

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _check_http_url(value)

    @field_validator("source_page")
    @classmethod
    def _page_url(cls, value: str | None) -> str | None:
        return _check_http_url(value) if value else None

    @field_validator("licence", "author", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("labels", mode="before")
    @classmethod
    def _split_labels(cls, value: Any) -> Any:
        if value is None:
            return ()
        if isinstance(value, str):
            value = value.split(LABEL_SEPARATOR)
        if not isinstance(value, list | tuple):
            raise ValueError("must be a string or a list of strings")
        if not all(isinstance(v, str) for v in value):
            raise ValueError("every label must be a string")
        return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return _normalise_date(str(value).strip())


@dataclass(frozen=True)
class RowError:
    line: int  # 1-based line in the file (CSV/JSONL/text) or item number (JSON array)
    message: str


@dataclass
class UrlList:
    rows: list[UrlRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()

    @property
    def labels(self) -> list[str]:
        return sorted({label for row in self.rows for label in row.labels})


def parse_url_list(path: Path | str) -> UrlList:
    """Read and validate every row of the list at ``path`` (format from the extension)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read URL list {path}: {exc}") from exc
    return parse_url_text(text, kind=_kind(path, text))


def parse_url_text(text: str, *, kind: str) -> UrlList:
    """Parse ``text`` as ``kind``: csv, tsv, jsonl, json or txt."""
    readers = {
        "csv": _csv_records,
        "tsv": _csv_records,
        "jsonl": _jsonl_records,
        "json": _json_records,
        "txt": _text_records,
    }
    if kind not in readers:
        raise ConfigError(f"unknown URL list format {kind!r}; use one of {sorted(readers)}")
    result = UrlList()
    ignored: set[str] = set()
    for line, record in readers[kind](text, kind):
        if isinstance(record, str):
            result.errors.append(RowError(line, record))
            continue
        fields, unknown = _canonical(record)
        ignored |= unknown
        try:
            result.rows.append(UrlRow(line=line, **fields))
        except ValidationError as exc:
            result.errors.append(RowError(line, _describe(exc)))
    result.ignored_columns = tuple(sorted(ignored))
    return result


def _kind(path: Path, text: str) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("csv", "tsv", "jsonl", "json", "txt"):
        return suffix
    if suffix == "ndjson":
        return "jsonl"
    head = text.lstrip()[:1]
    return {"{": "jsonl", "[": "json"}.get(head, "csv")


Record = tuple[int, dict[str, Any] | str]  # a str is the error for that line


def _csv_records(text: str, kind: str) -> Iterator[Record]:
    reader = csv.DictReader(io.StringIO(text), delimiter="\t" if kind == "tsv" else ",")
    if not reader.fieldnames:
        return
    for row in reader:
        if None in row:
            yield reader.line_num, f"{len(row[None])} more cells than header columns"
        elif any(value is None for value in row.values()):
            yield reader.line_num, "fewer cells than header columns"
        elif any(value.strip() for value in row.values()):
            yield reader.line_num, row


def _jsonl_records(text: str, kind: str) -> Iterator[Record]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, _object(line, "line")


def _json_records(text: str, kind: str) -> Iterator[Record]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        yield exc.lineno, f"invalid JSON: {exc.msg}"
        return
    if not isinstance(items, list):
        yield 1, "a .json URL list must be an array of objects"
        return
    for number, item in enumerate(items, start=1):
        yield number, item if isinstance(item, dict) else "item is not an object"


def _text_records(text: str, kind: str) -> Iterator[Record]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, {"url": line.strip()}


def _object(line: str, what: str) -> dict[str, Any] | str:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"invalid JSON: {exc.msg} (column {exc.colno})"
    return value if isinstance(value, dict) else f"{what} is not a JSON object"


def _canonical(record: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    fields: dict[str, Any] = {}
    unknown: set[str] = set()
    for key, value in record.items():
        name = str(key).strip().lower().replace(" ", "_").replace("-", "_")
        target = _ALIASES.get(name)
        if target is None:
            unknown.add(str(key))
        elif target not in fields or fields[target] in (None, ""):
            fields[target] = value
    return fields, unknown


def _check_http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ValueError(f"malformed URL {value!r}: {exc}") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{value!r} is not an http(s) URL")
    if not parts.hostname:
        raise ValueError(f"{value!r} has no host")
    if any(ch.isspace() for ch in value):
        raise ValueError(f"{value!r} contains whitespace")
    return value


def _normalise_date(text: str) -> str:
    """ISO 8601 date or date-time (a trailing Z is accepted), or a bare year or year-month."""
    if len(text) in (4, 7) and text[:4].isdigit():
        parts = text.split("-")
        if len(parts) == 1 or (len(parts) == 2 and parts[1].isdigit() and 1 <= int(parts[1]) <= 12):
            return text
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 date (YYYY-MM-DD)") from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "row"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is missing"
        parts.append(f"{where} {message}")
    return "; ".join(parts)
