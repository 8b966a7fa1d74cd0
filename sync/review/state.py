"""The durable sync state (``data_dir/sync.sqlite``): what the last pulls saw, what the audit
found, what was pushed, what reviewers decided.

Every step of a sync commits as it goes, so a run killed anywhere leaves a state the next run
continues from: pulled tasks stay pulled, dismissals stay dismissed, and the push step compares
the wanted fields against the tasks as Label Studio last returned them, never against a plan.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

from winnow.errors import StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    project INTEGER NOT NULL, task_id INTEGER NOT NULL, updated_at TEXT NOT NULL,
    data TEXT NOT NULL, meta TEXT NOT NULL, annotations TEXT NOT NULL, predictions TEXT NOT NULL,
    image TEXT, sha256 TEXT, PRIMARY KEY (project, task_id));
CREATE TABLE IF NOT EXISTS projects (
    project INTEGER PRIMARY KEY, watermark TEXT, last_pull_at REAL, last_sync_at REAL,
    label_config TEXT);
CREATE TABLE IF NOT EXISTS findings (
    project INTEGER NOT NULL, task_id INTEGER NOT NULL, issue_type TEXT NOT NULL,
    score REAL NOT NULL, grp TEXT, given_label TEXT, suggested_label TEXT, details TEXT,
    sha256 TEXT, PRIMARY KEY (project, task_id, issue_type));
CREATE TABLE IF NOT EXISTS dismissals (
    sha256 TEXT NOT NULL, label TEXT NOT NULL, issue_type TEXT NOT NULL, decided_by TEXT,
    decided_at TEXT, PRIMARY KEY (sha256, label, issue_type));
CREATE TABLE IF NOT EXISTS decisions_seen (
    project INTEGER NOT NULL, task_id INTEGER NOT NULL, annotation_id INTEGER NOT NULL,
    annotation_updated_at TEXT NOT NULL,
    PRIMARY KEY (project, task_id, annotation_id, annotation_updated_at));
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, project INTEGER NOT NULL, task_id INTEGER,
    at TEXT NOT NULL, who TEXT, action TEXT NOT NULL, what TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS label_reviews (
    project INTEGER NOT NULL, task_id INTEGER NOT NULL, given_label TEXT NOT NULL,
    queue TEXT NOT NULL, confirmed INTEGER NOT NULL, estimate REAL, who TEXT, at TEXT,
    spot INTEGER NOT NULL, PRIMARY KEY (project, task_id, given_label));
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS views (
    project INTEGER NOT NULL, name TEXT NOT NULL, view_id INTEGER NOT NULL,
    PRIMARY KEY (project, name));
"""


@dataclass(frozen=True)
class TaskRow:
    """One task as Label Studio last returned it, plus the content hash Winnow resolved."""

    task_id: int
    updated_at: str
    data: dict[str, Any]
    meta: dict[str, Any]
    annotations: list[dict[str, Any]]
    predictions: list[dict[str, Any]]
    image: str | None
    sha256: str | None


@dataclass(frozen=True)
class Finding:
    task_id: int
    issue_type: str
    score: float
    group: str | None
    given_label: str | None
    suggested_label: str | None
    details: str
    sha256: str | None


@dataclass(frozen=True)
class LabelReview:
    """A reviewer's verdict on a label-issue flag: ``confirmed`` when they changed the flagged
    ``given_label`` (the flag was right), not when they kept it; ``queue``: "likely" or
    "possible"; ``estimate``: the queue's planted precision estimate when it was decided;
    ``spot``: the task was in the likely queue's spot check (a random draw, not its top)."""

    task_id: int
    given_label: str
    queue: str
    confirmed: bool
    estimate: float | None
    who: str | None
    at: str | None
    spot: bool = False


class SyncState:
    """Open (or create) the sync state at ``path``; a context manager."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(self.path), timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            # Commits survive a killed process (the WAL is written before each commit
            # returns) without an fsync each: per-task commits (decisions seen, pushed
            # fields) cost microseconds, not milliseconds. Only a power cut can drop the last
            # commits, and a sync recovers those as it recovers a kill: from Label Studio.
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._db:
                self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open sync state {self.path}: {exc}") from exc

    def __enter__(self) -> SyncState:
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    # --- tasks ---------------------------------------------------------------------------
    def put_tasks(self, project: int, rows: Iterable[TaskRow]) -> None:
        with self._db:
            self._db.executemany(  # a re-pulled task keeps its resolved hash if same image
                "INSERT INTO tasks VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (project, task_id) DO "
                "UPDATE SET updated_at=excluded.updated_at, data=excluded.data, "
                "meta=excluded.meta, annotations=excluded.annotations, "
                "predictions=excluded.predictions, sha256=CASE WHEN excluded.image IS "
                "tasks.image THEN COALESCE(excluded.sha256, tasks.sha256) ELSE excluded.sha256 "
                "END, image=excluded.image",
                [
                    (
                        project,
                        r.task_id,
                        r.updated_at,
                        _dump(r.data),
                        _dump(r.meta),
                        _dump(r.annotations),
                        _dump(r.predictions),
                        r.image,
                        r.sha256,
                    )
                    for r in rows
                ],
            )

    def set_sha256(self, project: int, shas: dict[int, str | None]) -> None:
        with self._db:
            self._db.executemany(
                "UPDATE tasks SET sha256=? WHERE project=? AND task_id=?",
                [(sha, project, task_id) for task_id, sha in shas.items()],
            )

    def delete_tasks(self, project: int, task_ids: Iterable[int]) -> None:
        ids = [(project, t) for t in task_ids]
        with self._db:
            self._db.executemany("DELETE FROM tasks WHERE project=? AND task_id=?", ids)
            self._db.executemany("DELETE FROM findings WHERE project=? AND task_id=?", ids)

    def tasks(self, project: int) -> list[TaskRow]:
        rows = self._db.execute(
            "SELECT task_id, updated_at, data, meta, annotations, predictions, image, sha256 "
            "FROM tasks WHERE project=? ORDER BY task_id",
            (project,),
        )
        out: list[TaskRow] = []
        while chunk := rows.fetchmany(_DECODE_CHUNK):
            data, meta, annotations, predictions = (_loads_many(chunk, i) for i in (2, 3, 4, 5))
            out += [
                TaskRow(r[0], r[1], d, m, a, p, r[6], r[7])
                for r, d, m, a, p in zip(chunk, data, meta, annotations, predictions, strict=True)
            ]
        return out

    def task_ids(self, project: int) -> set[int]:
        rows = self._db.execute("SELECT task_id FROM tasks WHERE project=?", (project,))
        return {r[0] for r in rows}

    def task_versions(self, project: int) -> dict[int, str]:
        """``task_id -> updated_at`` as last stored: a pull re-reads only tasks whose
        ``updated_at`` in Label Studio differs (the sync's own writes store theirs)."""
        rows = self._db.execute("SELECT task_id, updated_at FROM tasks WHERE project=?", (project,))
        return dict(iter(rows))

    # --- predictions being imported in bulk -------------------------------------------------
    def mark_pending_predictions(self, project: int, task_ids: Iterable[int]) -> None:
        """Remember, before a bulk import, which tasks may get a review prediction: the import
        does not move ``updated_at``, so only this marker tells the next pull to re-read them
        if the run dies before it has read them back."""
        ids = sorted({*self.pending_predictions(project), *task_ids})
        self.put(f"pending_predictions:{project}", json.dumps(ids))

    def pending_predictions(self, project: int) -> set[int]:
        return set(json.loads(self.get(f"pending_predictions:{project}") or "[]"))

    def clear_pending_predictions(self, project: int, task_ids: Iterable[int]) -> None:
        left = self.pending_predictions(project) - set(task_ids)
        self.put(f"pending_predictions:{project}", json.dumps(sorted(left)))

    # --- per-project bookkeeping ----------------------------------------------------------
    def project_info(self, project: int) -> dict[str, Any]:
        row = self._db.execute(
            "SELECT watermark, last_pull_at, last_sync_at, label_config FROM projects "
            "WHERE project=?",
            (project,),
        ).fetchone()
        keys = ("watermark", "last_pull_at", "last_sync_at", "label_config")
        return dict(zip(keys, row or (None,) * 4, strict=True))

    def update_project(self, project: int, **fields: Any) -> None:
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO projects (project) VALUES (?)", (project,))
            for key, value in fields.items():
                self._db.execute(f"UPDATE projects SET {key}=? WHERE project=?", (value, project))

    # --- findings ---------------------------------------------------------------------------
    def replace_findings(self, project: int, findings: Iterable[Finding]) -> None:
        with self._db:
            self._db.execute("DELETE FROM findings WHERE project=?", (project,))
            self._db.executemany(
                "INSERT OR REPLACE INTO findings VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        project,
                        f.task_id,
                        f.issue_type,
                        f.score,
                        f.group,
                        f.given_label,
                        f.suggested_label,
                        f.details,
                        f.sha256,
                    )
                    for f in findings
                ],
            )

    def findings(self, project: int) -> list[Finding]:
        rows = self._db.execute(
            "SELECT task_id, issue_type, score, grp, given_label, suggested_label, details, "
            "sha256 FROM findings WHERE project=? ORDER BY task_id, issue_type",
            (project,),
        )
        return [Finding(*r) for r in rows]

    # --- reviewer decisions ---------------------------------------------------------------
    def dismiss(
        self, sha256: str, label: str, issue_type: str, *, by: str | None, at: str | None
    ) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO dismissals VALUES (?,?,?,?,?)",
                (sha256, label, issue_type, by, at),
            )

    def dismissed(self) -> set[tuple[str, str, str]]:
        return set(self._db.execute("SELECT sha256, label, issue_type FROM dismissals"))

    def decision_seen(self, project: int, task_id: int, annotation_id: int, at: str) -> bool:
        """True if this annotation version was handled before; marks it handled otherwise."""
        with self._db:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO decisions_seen VALUES (?,?,?,?)",
                (project, task_id, annotation_id, at),
            )
        return cur.rowcount == 0

    def log(
        self, project: int, task_id: int | None, *, at: str, who: str | None, action: str, what: str
    ) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO audit_log (project, task_id, at, who, action, what) "
                "VALUES (?,?,?,?,?,?)",
                (project, task_id, at, who, action, what),
            )

    def record_review(self, project: int, review: LabelReview) -> None:
        """One reviewer verdict on a label-issue flag; a later verdict on the same flagged
        label replaces it (a reviewer changed their mind)."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO label_reviews VALUES (?,?,?,?,?,?,?,?,?)",
                (project, *astuple(review)),
            )

    def label_reviews(self, project: int) -> list[LabelReview]:
        cur = self._db.execute(
            "SELECT task_id, given_label, queue, confirmed, estimate, who, at, spot "
            "FROM label_reviews WHERE project=? ORDER BY at, task_id",
            (project,),
        )
        return [LabelReview(t, g, q, bool(c), e, w, a, bool(s)) for t, g, q, c, e, w, a, s in cur]

    def audit_log(self, project: int) -> list[dict[str, Any]]:
        cur = self._db.execute(
            "SELECT task_id, at, who, action, what FROM audit_log WHERE project=? ORDER BY id",
            (project,),
        )
        keys = ("task_id", "at", "who", "action", "what")
        return [dict(zip(keys, r, strict=True)) for r in cur]

    def get(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def put(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO kv VALUES (?,?)", (key, value))

    # --- views ------------------------------------------------------------------------------
    def views(self, project: int) -> dict[str, int]:
        cur = self._db.execute("SELECT name, view_id FROM views WHERE project=?", (project,))
        return dict(iter(cur))

    def put_view(self, project: int, name: str, view_id: int) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO views VALUES (?,?,?)", (project, name, view_id)
            )


def state_path(data_dir: Path) -> Path:
    return Path(data_dir) / "sync.sqlite"


_DECODE_CHUNK = 5000  # rows whose JSON columns are decoded in one call


def _loads_many(rows: list[tuple], column: int) -> list[Any]:
    """One JSON column of many rows, decoded as one array: the decoder then shares each
    key string across the rows (per-row decoding allocates every key again, a third of a
    100k-task project's memory) and is faster."""
    return json.loads("[" + ",".join(r[column] for r in rows) + "]")


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def iter_chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
