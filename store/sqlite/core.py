"""The embedded job store's core: one SQLite file shared by the bridges and workers of a
host, opened and migrated, its transactions, and the helpers of every role.

Each method is one transaction. Writers take the write lock up front (BEGIN IMMEDIATE),
so two claimers serialise instead of failing half-way; WAL lets readers go on meanwhile.
A claim is a single UPDATE ... RETURNING, so no two callers can receive the same job.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fondation.errors import CancelRequested, JobNotFound, LeaseLost, MalformedJob, StoreUnavailable
from store.progress import (
    DEFAULT_LANGUAGE,
    Language,
    Moment,
    moment_text,
)
from store.records import ACTIVE_STATUSES, FINAL_STATUSES, JobRecord

log = logging.getLogger(__name__)
ACTIVE_SQL = "(" + ",".join(f"'{s}'" for s in sorted(ACTIVE_STATUSES)) + ")"
FINAL_SQL = "(" + ",".join(f"'{s}'" for s in sorted(FINAL_STATUSES)) + ")"
CLEAR_LEASE = "lockedBy = NULL, leaseUntil = NULL, leaseToken = NULL"


# The repository's latest completed job, as the web app finds its course: the last one
# created (Convex orders by creation; rowid breaks a tie of createdAt).
LATEST_COMPLETED = (
    "SELECT id FROM jobs WHERE repositoryId=? AND status='completed'"
    " ORDER BY createdAt DESC, rowid DESC LIMIT 1"
)


def ended_under_holder(row: sqlite3.Row, token: str) -> bool:
    """Ended by someone else while its holder held the lease (the web app writes
    ``canceled`` or ``failed`` into status and leaves the lease); our own endings clear
    lockedBy."""
    return bool(
        row["status"] in FINAL_STATUSES
        and row["lockedBy"] is not None
        and row["leaseToken"] == token
    )


def new_id() -> str:
    return uuid.uuid4().hex


def job_from_row(row: sqlite3.Row) -> JobRecord:
    data = dict(row)
    try:
        for field in ("result", "regenerationStats"):
            if data.get(field) is not None:
                data[field] = json.loads(data[field])
        for flag in ("cancelRequested", "fresh"):
            if data.get(flag) is not None:
                data[flag] = bool(data[flag])
        return JobRecord.model_validate(data)
    except (ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())[:400]
        raise MalformedJob(f"job {data.get('id')} is malformed: {detail}") from exc


# A job's row values and the record parsed from them, by job id.
RowMemo = dict[str, tuple[tuple[Any, ...], JobRecord]]


def jobs_from_rows(
    rows: Sequence[sqlite3.Row], reuse: RowMemo | None = None, memo: RowMemo | None = None
) -> list[JobRecord]:
    """Records of the rows that parse; a malformed row is logged and left out, so one
    bad row written by another client cannot hide every other job. A row equal to its
    entry in ``reuse`` gets that entry's record; ``memo`` collects what was returned."""
    jobs = []
    for row in rows:
        values = tuple(row)
        cached = reuse.get(row["id"]) if reuse else None
        if cached is not None and cached[0] == values:
            job = cached[1]
        else:
            try:
                job = job_from_row(row)
            except MalformedJob as exc:
                log.warning("%s", exc)
                continue
        if memo is not None:
            memo[job.id] = (values, job)
        jobs.append(job)
    return jobs


class SqliteCore:
    """The file, its connections (one per thread) and transactions, and the fences every
    role's calls share."""

    def __init__(
        self,
        path: Path | str,
        busy_timeout_ms: int = 5000,
        *,
        progress_language: Language = DEFAULT_LANGUAGE,
    ) -> None:
        self.path = Path(path)
        self._language: Language = progress_language
        self._busy_timeout_ms = busy_timeout_ms
        # Per owner: a bridge also reads the jobs of dead bridges (bridge/peers.py).
        self._held_memo: dict[str, RowMemo] = {}
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        schema = resources.files("store").joinpath("sqlite_schema.sql").read_text()
        try:
            self._conn().executescript(schema)
            self._migrate()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        """Columns added after a store file was first made (additive only)."""
        conn = self._conn()
        for table, column, sql_type in (
            ("jobSteps", "usage", "TEXT"),
            ("jobs", "fresh", "INTEGER"),
            ("jobs", "regenerationStats", "TEXT"),
        ):
            columns = {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}
            if column in columns:
                continue
            try:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):  # another process was first
                    raise

    # --- connection and transactions ----------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=self._busy_timeout_ms / 1000
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable across process crashes in WAL mode, which is what a
            # killed worker needs; only an OS crash may lose the last transactions.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            self._local.conn = conn
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store {self.path} is busy: {exc}") from exc
        try:
            yield conn
        except sqlite3.OperationalError as exc:
            conn.execute("ROLLBACK")
            raise StoreUnavailable(f"SQLite store {self.path} failed: {exc}") from exc
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                conn.execute("ROLLBACK")
                raise StoreUnavailable(f"SQLite commit failed: {exc}") from exc

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"SQLite store {self.path} failed: {exc}") from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @staticmethod
    def _fenced(db: sqlite3.Connection, job_id: str, token: str) -> sqlite3.Row:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM jobs WHERE id = ?", (job_id,)
        ).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        if ended_under_holder(row, token):
            raise CancelRequested(job_id)
        if row["status"] in FINAL_STATUSES:
            raise LeaseLost(job_id, f"job is {row['status']}")
        if row["leaseToken"] != token:
            raise LeaseLost(job_id, "lease token is not current (the job was taken over)")
        return row

    def _lit(self, moment: Moment) -> str:
        """The moment's progress text as an SQL literal: a constant of ours, quoted."""
        return "'" + moment_text(moment, self._language).replace("'", "''") + "'"

    @staticmethod
    def _job(db: sqlite3.Connection, job_id: str) -> JobRecord:
        row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFound(job_id)
        return job_from_row(row)

    @staticmethod
    def _append_log(db: sqlite3.Connection, job_id: str, level: str, msg: str, now_ms: int) -> int:
        row = db.execute(
            "INSERT INTO jobLogs (jobId, seq, ts, level, msg)"
            " SELECT ?, COALESCE(MAX(seq), -1) + 1, ?, ?, ? FROM jobLogs WHERE jobId=?"
            " RETURNING seq",
            (job_id, now_ms, level, msg, job_id),
        ).fetchone()
        return int(row["seq"])
