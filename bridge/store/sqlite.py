"""The embedded job store: one SQLite file shared by the bridges and workers of a host.

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

from bridge.store.backoff import backoff_ms
from bridge.store.base import JobStore
from bridge.store.progress import (
    DEFAULT_LANGUAGE,
    Language,
    Moment,
    moment_text,
    step_log_line,
    step_progress,
)
from bridge.store.records import (
    ACTIVE_STATUSES,
    ANALYSIS_STEPS,
    FINAL_STATUSES,
    FINALIZE_STEP,
    STEP_NAMES,
    Claim,
    DocRecord,
    DocSpec,
    JobLogRecord,
    JobRecord,
    JobSpec,
    LeaseState,
    LogLevel,
    RepositoryRecord,
    RepositorySpec,
    StepRecord,
    StepStart,
    web_result,
)
from fondation.errors import CancelRequested, JobNotFound, LeaseLost, MalformedJob, StoreUnavailable

log = logging.getLogger(__name__)
_ACTIVE_SQL = "(" + ",".join(f"'{s}'" for s in sorted(ACTIVE_STATUSES)) + ")"
_FINAL_SQL = "(" + ",".join(f"'{s}'" for s in sorted(FINAL_STATUSES)) + ")"
_CLEAR_LEASE = "lockedBy = NULL, leaseUntil = NULL, leaseToken = NULL"


def step_status(step: int) -> str:
    """Job status while ``step`` runs, as the web app shows it."""
    if step == 0:
        return "cloning"
    if step <= ANALYSIS_STEPS:
        return "analyzing"
    return "gathering"


# The repository's latest completed job, as the web app finds its course: the last one
# created (Convex orders by creation; rowid breaks a tie of createdAt).
_LATEST_COMPLETED = (
    "SELECT id FROM jobs WHERE repositoryId=? AND status='completed'"
    " ORDER BY createdAt DESC, rowid DESC LIMIT 1"
)


def _ended_under_holder(row: sqlite3.Row, token: str) -> bool:
    """Ended by someone else while its holder held the lease (the web app writes
    ``canceled`` or ``failed`` into status and leaves the lease); our own endings clear
    lockedBy."""
    return bool(
        row["status"] in FINAL_STATUSES
        and row["lockedBy"] is not None
        and row["leaseToken"] == token
    )


def _new_id() -> str:
    return uuid.uuid4().hex


def _job_from_row(row: sqlite3.Row) -> JobRecord:
    data = dict(row)
    try:
        if data.get("result") is not None:
            data["result"] = json.loads(data["result"])
        if data.get("cancelRequested") is not None:
            data["cancelRequested"] = bool(data["cancelRequested"])
        return JobRecord.model_validate(data)
    except (ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())[:400]
        raise MalformedJob(f"job {data.get('id')} is malformed: {detail}") from exc


# A job's row values and the record parsed from them, by job id.
_RowMemo = dict[str, tuple[tuple[Any, ...], JobRecord]]


def _jobs_from_rows(
    rows: Sequence[sqlite3.Row], reuse: _RowMemo | None = None, memo: _RowMemo | None = None
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
                job = _job_from_row(row)
            except MalformedJob as exc:
                log.warning("%s", exc)
                continue
        if memo is not None:
            memo[job.id] = (values, job)
        jobs.append(job)
    return jobs


class SqliteStore(JobStore):
    """``JobStore`` on a SQLite file. Safe across threads and processes."""

    per_user_tokens = False

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
        self._held_memo: dict[str, _RowMemo] = {}
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        schema = resources.files("bridge.store").joinpath("sqlite_schema.sql").read_text()
        try:
            self._conn().executescript(schema)
            self._migrate()
        except sqlite3.OperationalError as exc:
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        """Columns added after a store file was first made (additive only)."""
        conn = self._conn()
        columns = {r["name"] for r in conn.execute("PRAGMA table_info(jobSteps)")}
        if "usage" not in columns:
            try:
                conn.execute("ALTER TABLE jobSteps ADD COLUMN usage TEXT")
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
        if _ended_under_holder(row, token):
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
        return _job_from_row(row)

    # --- clients ------------------------------------------------------------------

    def upsert_repository(self, spec: RepositorySpec, now_ms: int) -> RepositoryRecord:
        with self._write() as db:
            row = db.execute(
                "SELECT id FROM repositories WHERE userId = ? AND fullName = ?",
                (spec.user_id, spec.full_name),
            ).fetchone()
            repo_id = row["id"] if row else _new_id()
            db.execute(
                "INSERT INTO repositories (id, userId, githubRepoId, name, fullName,"
                " description, defaultBranch, cloneUrl, lastFetched)"
                " VALUES (?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(id) DO UPDATE SET name=excluded.name,"
                " description=excluded.description, defaultBranch=excluded.defaultBranch,"
                " cloneUrl=excluded.cloneUrl, lastFetched=excluded.lastFetched",
                (
                    repo_id,
                    spec.user_id,
                    spec.github_repo_id,
                    spec.name,
                    spec.full_name,
                    spec.description,
                    spec.default_branch,
                    spec.clone_url,
                    now_ms,
                ),
            )
        return RepositoryRecord(id=repo_id, **spec.model_dump())

    def get_repository(self, repository_id: str) -> RepositoryRecord:
        rows = self._read("SELECT * FROM repositories WHERE id = ?", (repository_id,))
        if not rows:
            raise JobNotFound(f"repository {repository_id}")
        return RepositoryRecord.model_validate(dict(rows[0]))

    def create_job(self, spec: JobSpec, now_ms: int) -> tuple[JobRecord, bool]:
        with self._write() as db:
            if spec.dedupe_key:
                live = db.execute(
                    f"SELECT * FROM jobs WHERE dedupeKey = ? AND status NOT IN {_FINAL_SQL}"
                    " ORDER BY createdAt LIMIT 1",
                    (spec.dedupe_key,),
                ).fetchone()
                if live is not None:
                    return _job_from_row(live), False
            job_id = _new_id()
            db.execute(
                "INSERT INTO jobs (id, userId, repositoryId, status, prompt, callbackToken,"
                " runAt, attempts, maxAttempts, dedupeKey, createdAt, updatedAt,"
                " totalSteps, ref, progress)"
                f" VALUES (?,?,?,'pending',?,?,?,0,?,?,?,?,?,?,{self._lit('queued')})",
                (
                    job_id,
                    spec.user_id,
                    spec.repository_id,
                    spec.prompt,
                    spec.callback_token,
                    spec.run_at if spec.run_at is not None else now_ms,
                    spec.max_attempts,
                    spec.dedupe_key,
                    now_ms,
                    now_ms,
                    ANALYSIS_STEPS,
                    spec.ref,
                ),
            )
            return self._job(db, job_id), True

    def get_job(self, job_id: str) -> JobRecord:
        rows = self._read("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise JobNotFound(job_id)
        return _job_from_row(rows[0])

    def list_jobs(self, status: str | None = None, limit: int = 50) -> list[JobRecord]:
        if status:
            rows = self._read(
                "SELECT * FROM jobs WHERE status = ? ORDER BY createdAt DESC LIMIT ?",
                (status, limit),
            )
        else:
            rows = self._read("SELECT * FROM jobs ORDER BY createdAt DESC LIMIT ?", (limit,))
        return _jobs_from_rows(rows)

    def request_cancel(self, job_id: str, now_ms: int) -> JobRecord:
        with self._write() as db:
            job = self._job(db, job_id)
            if job.status == "pending":
                db.execute(
                    f"UPDATE jobs SET status='canceled', cancelRequested=1, {_CLEAR_LEASE},"
                    f" progress={self._lit('canceled')}, completedAt=?, updatedAt=? WHERE id=?",
                    (now_ms, now_ms, job_id),
                )
            elif job.status in ACTIVE_STATUSES:
                db.execute(
                    "UPDATE jobs SET cancelRequested=1, updatedAt=? WHERE id=?",
                    (now_ms, job_id),
                )
            return self._job(db, job_id)

    def retry_job(self, job_id: str, now_ms: int) -> JobRecord:
        with self._write() as db:
            job = self._job(db, job_id)
            if job.status not in {"failed", "dead", "canceled"}:
                raise MalformedJob(
                    f"job {job_id} is {job.status}; only a failed, dead or"
                    " canceled job can be retried"
                )
            db.execute(
                f"UPDATE jobs SET status='pending', attempts=0, runAt=?, {_CLEAR_LEASE},"
                " cancelRequested=NULL, error=NULL, completedAt=NULL, "
                f"progress={self._lit('queued')},"
                " updatedAt=? WHERE id=?",
                (now_ms, now_ms, job_id),
            )
            return self._job(db, job_id)

    # --- the bridge ---------------------------------------------------------------

    def claim(self, owner: str, limit: int, lease_ms: int, now_ms: int) -> list[Claim]:
        if limit <= 0:
            return []
        with self._write() as db:
            rows = db.execute(
                "UPDATE jobs SET status='claimed', lockedBy=?, leaseUntil=?,"
                " leaseToken=lower(hex(randomblob(16))), updatedAt=?, "
                f"progress={self._lit('claimed')}"
                " WHERE id IN (SELECT id FROM jobs WHERE status='pending' AND runAt <= ?"
                " ORDER BY runAt, createdAt LIMIT ?) RETURNING *",
                (owner, now_ms + lease_ms, now_ms, now_ms, limit),
            ).fetchall()
            claims = []
            for row in rows:
                try:
                    claims.append(Claim(job=_job_from_row(row), lease_token=row["leaseToken"]))
                except MalformedJob as exc:
                    # Fail it for good, in this transaction: the other claims go on.
                    error = str(exc)
                    db.execute(
                        f"UPDATE jobs SET status='failed', {_CLEAR_LEASE}, error=?, lastError=?,"
                        f" completedAt=?, updatedAt=?, progress={self._lit('failed')} WHERE id=?",
                        (error, error, now_ms, now_ms, row["id"]),
                    )
                    self._append_log(db, row["id"], "error", f"Failed: {error}", now_ms)
                    log.error("%s; failed it", error)
        claims.sort(key=lambda c: (c.job.run_at or 0, c.job.created_at))
        return claims

    def renew(self, job_id: str, token: str, lease_ms: int, now_ms: int) -> LeaseState:
        with self._write() as db:
            current = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if current is not None and _ended_under_holder(current, token):
                until = current["leaseUntil"] or now_ms
                return LeaseState(
                    lease_until=until, cancel_requested=True, status=current["status"]
                )
            row = self._fenced(db, job_id, token)
            until = now_ms + lease_ms
            db.execute(
                "UPDATE jobs SET leaseUntil=?, updatedAt=? WHERE id=?", (until, now_ms, job_id)
            )
            return LeaseState(
                lease_until=until,
                cancel_requested=bool(row["cancelRequested"]),
                status=row["status"],
            )

    def held_jobs(self, owner: str, limit: int) -> list[JobRecord]:
        rows = self._read(
            f"SELECT * FROM jobs WHERE lockedBy = ? AND status IN {_ACTIVE_SQL}"
            " ORDER BY createdAt LIMIT ?",
            (owner, limit),
        )
        # A bridge asks on every wake-up, once per finished job on a busy stack, and most
        # rows have not changed since: parsing is most of the cost, so a row equal to one
        # parsed last time gets the same (frozen) record back.
        memo: _RowMemo = {}
        jobs = _jobs_from_rows(rows, reuse=self._held_memo.get(owner, {}), memo=memo)
        self._held_memo[owner] = memo
        return jobs

    def reclaim_expired(self, now_ms: int, limit: int) -> list[str]:
        with self._write() as db:
            rows = db.execute(
                f"UPDATE jobs SET status='pending', runAt=?, {_CLEAR_LEASE}, updatedAt=?,"
                f" lastError='lease expired', progress={self._lit('queued')}"
                " WHERE id IN (SELECT id FROM jobs WHERE leaseUntil < ?"
                f" AND status IN {_ACTIVE_SQL} ORDER BY leaseUntil LIMIT ?) RETURNING id",
                (now_ms, now_ms, now_ms, limit),
            ).fetchall()
        return [r["id"] for r in rows]

    def release(self, job_id: str, token: str, now_ms: int, reason: str) -> None:
        with self._write() as db:
            self._fenced(db, job_id, token)
            db.execute(
                f"UPDATE jobs SET status='pending', runAt=?, {_CLEAR_LEASE}, updatedAt=?,"
                f" lastError=?, progress={self._lit('queued')} WHERE id=?",
                (now_ms, now_ms, reason, job_id),
            )

    def mark_canceled(self, job_id: str, token: str, now_ms: int) -> JobRecord:
        with self._write() as db:
            self._fenced(db, job_id, token)
            db.execute(
                f"UPDATE jobs SET status='canceled', {_CLEAR_LEASE}, "
                f"progress={self._lit('canceled')},"
                " completedAt=?, updatedAt=? WHERE id=?",
                (now_ms, now_ms, job_id),
            )
            return self._job(db, job_id)

    # --- the workers --------------------------------------------------------------

    def start_step(self, job_id: str, token: str, step: int, worker: str, now_ms: int) -> StepStart:
        if not 0 <= step < len(STEP_NAMES):
            raise ValueError(f"no step {step}")
        with self._write() as db:
            job = self._fenced(db, job_id, token)
            if job["cancelRequested"]:
                raise CancelRequested(job_id)
            rows = {
                r["step"]: r
                for r in db.execute("SELECT * FROM jobSteps WHERE jobId=?", (job_id,)).fetchall()
            }
            current = rows.get(step)
            if current is None or current["status"] != "completed":
                rows[step] = db.execute(
                    "INSERT INTO jobSteps (jobId, step, name, status, runs, startedAt, worker)"
                    " VALUES (?,?,?,'started',1,?,?) ON CONFLICT(jobId, step) DO UPDATE SET"
                    " runs=runs+1, startedAt=excluded.startedAt, worker=excluded.worker"
                    " RETURNING *",
                    (job_id, step, STEP_NAMES[step], now_ms, worker),
                ).fetchone()
                text = step_progress(step, self._language)
                job = db.execute(
                    "UPDATE jobs SET status=?, currentStep=?, progress=?, updatedAt=?"
                    " WHERE id=? RETURNING *",
                    (step_status(step), min(step, ANALYSIS_STEPS), text, now_ms, job_id),
                ).fetchone()
                line = f"{step_log_line(step)} (worker {worker})"
                self._append_log(db, job_id, "info", line, now_ms)
            repo = db.execute(
                "SELECT * FROM repositories WHERE id = ?", (job["repositoryId"],)
            ).fetchone()
        steps = {n: StepRecord.model_validate(dict(r)) for n, r in sorted(rows.items())}
        return StepStart(
            step=steps[step],
            job=_job_from_row(job),
            repository=None if repo is None else RepositoryRecord.model_validate(dict(repo)),
            steps=list(steps.values()),
        )

    def finish_step(
        self,
        job_id: str,
        token: str,
        step: int,
        artifact: str,
        now_ms: int,
        usage: str | None = None,
    ) -> None:
        with self._write() as db:
            self._fenced(db, job_id, token)
            db.execute(
                "INSERT INTO jobSteps (jobId, step, name, status, runs, artifact, startedAt,"
                " completedAt, usage) VALUES (?,?,?,'completed',1,?,?,?,?)"
                " ON CONFLICT(jobId, step) DO UPDATE SET status='completed',"
                " artifact=excluded.artifact, completedAt=excluded.completedAt,"
                " usage=COALESCE(excluded.usage, usage)",
                (job_id, step, STEP_NAMES[step], artifact, now_ms, now_ms, usage),
            )
            db.execute("UPDATE jobs SET updatedAt=? WHERE id=?", (now_ms, job_id))

    def get_steps(self, job_id: str) -> list[StepRecord]:
        rows = self._read("SELECT * FROM jobSteps WHERE jobId=? ORDER BY step", (job_id,))
        return [StepRecord.model_validate(dict(r)) for r in rows]

    @staticmethod
    def _append_log(db: sqlite3.Connection, job_id: str, level: str, msg: str, now_ms: int) -> int:
        row = db.execute(
            "INSERT INTO jobLogs (jobId, seq, ts, level, msg)"
            " SELECT ?, COALESCE(MAX(seq), -1) + 1, ?, ?, ? FROM jobLogs WHERE jobId=?"
            " RETURNING seq",
            (job_id, now_ms, level, msg, job_id),
        ).fetchone()
        return int(row["seq"])

    def append_log(self, job_id: str, level: LogLevel, msg: str, now_ms: int) -> int:
        with self._write() as db:
            return self._append_log(db, job_id, level, msg, now_ms)

    def get_logs(self, job_id: str, after_seq: int = -1, limit: int = 1000) -> list[JobLogRecord]:
        rows = self._read(
            "SELECT * FROM jobLogs WHERE jobId=? AND seq>? ORDER BY seq LIMIT ?",
            (job_id, after_seq, limit),
        )
        return [JobLogRecord.model_validate(dict(r)) for r in rows]

    def upsert_docs(self, job_id: str, token: str, docs: Sequence[DocSpec], now_ms: int) -> int:
        with self._write() as db:
            job = self._fenced(db, job_id, token)
            for doc in docs:
                db.execute(
                    "INSERT INTO docs (id, jobId, repositoryId, slug, title, chapterIndex,"
                    " kind, content, createdAt, runId) VALUES (?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(jobId, slug) DO UPDATE SET title=excluded.title,"
                    " chapterIndex=excluded.chapterIndex, kind=excluded.kind,"
                    " content=excluded.content, updatedAt=excluded.createdAt",
                    (
                        _new_id(),
                        job_id,
                        job["repositoryId"],
                        doc.slug,
                        doc.title,
                        doc.chapter_index,
                        doc.kind,
                        doc.content,
                        now_ms,
                        job["runId"],
                    ),
                )
        return len(docs)

    def get_docs(self, job_id: str) -> list[DocRecord]:
        rows = self._read(
            "SELECT * FROM docs WHERE jobId=? ORDER BY kind, chapterIndex, slug", (job_id,)
        )
        return [DocRecord.model_validate(dict(r)) for r in rows]

    def complete(
        self, job_id: str, token: str, result: dict[str, Any], docs_count: int, now_ms: int
    ) -> JobRecord:
        with self._write() as db:
            row = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
            # A repeat after a lost answer: our own completion is already there. The
            # completing token is kept on the job for exactly this check.
            if row is not None and row["status"] == "completed" and row["leaseToken"] == token:
                return _job_from_row(row)
            self._fenced(db, job_id, token)
            db.execute(
                "UPDATE jobs SET status='completed', lockedBy=NULL, leaseUntil=NULL, result=?,"
                f" docsCount=?, completedAt=?, updatedAt=?, progress={self._lit('completed')},"
                " currentStep=?, error=NULL WHERE id=?",
                (
                    json.dumps(web_result(result)),
                    docs_count,
                    now_ms,
                    now_ms,
                    ANALYSIS_STEPS,
                    job_id,
                ),
            )
            # The finalize step ends with the job, in the same transaction.
            db.execute(
                "UPDATE jobSteps SET status='completed', completedAt=? WHERE jobId=? AND step=?",
                (now_ms, job_id, FINALIZE_STEP),
            )
            repo_id = row["repositoryId"] if row else None
            db.execute("UPDATE repositories SET lastAnalyzedAt=? WHERE id=?", (now_ms, repo_id))
            self._append_log(db, job_id, "info", "Completed", now_ms)
            # The repository keeps one course: the other completed jobs' docs go.
            latest = db.execute(_LATEST_COMPLETED, (repo_id,)).fetchone()
            db.execute(
                "DELETE FROM docs WHERE jobId IN (SELECT id FROM jobs WHERE repositoryId=?"
                " AND status='completed' AND id<>?)",
                (repo_id, latest["id"]),
            )
            return self._job(db, job_id)

    def fail(
        self,
        job_id: str,
        token: str,
        error: str,
        permanent: bool,
        now_ms: int,
        jitter_ms: int,
    ) -> JobRecord:
        with self._write() as db:
            row = self._fenced(db, job_id, token)
            attempts = int(row["attempts"]) + 1
            if permanent:
                db.execute(
                    f"UPDATE jobs SET status='failed', {_CLEAR_LEASE}, attempts=?, error=?,"
                    f" lastError=?, completedAt=?, updatedAt=?, progress={self._lit('failed')}"
                    " WHERE id=?",
                    (attempts, error, error, now_ms, now_ms, job_id),
                )
                self._append_log(db, job_id, "error", f"Failed: {error}", now_ms)
            elif attempts >= int(row["maxAttempts"]):
                db.execute(
                    f"UPDATE jobs SET status='dead', {_CLEAR_LEASE}, attempts=?, error=?,"
                    " lastError=?, completedAt=?, updatedAt=?, "
                    f"progress={self._lit('dead')} WHERE id=?",
                    (attempts, error, error, now_ms, now_ms, job_id),
                )
                self._append_log(
                    db, job_id, "error", f"Dead after {attempts} attempts: {error}", now_ms
                )
            else:
                run_at = now_ms + backoff_ms(attempts) + jitter_ms
                db.execute(
                    f"UPDATE jobs SET status='pending', {_CLEAR_LEASE}, attempts=?,"
                    " lastError=?, runAt=?, updatedAt=?, "
                    f"progress={self._lit('retrying')} WHERE id=?",
                    (attempts, error, run_at, now_ms, job_id),
                )
                self._append_log(
                    db,
                    job_id,
                    "error",
                    f"Attempt {attempts} failed, retry in {(run_at - now_ms) / 1000:.1f} s:"
                    f" {error}",
                    now_ms,
                )
            return self._job(db, job_id)

    # --- operations ---------------------------------------------------------------

    def list_stuck(self, now_ms: int, idle_ms: int, limit: int) -> list[JobRecord]:
        rows = self._read(
            f"SELECT * FROM jobs WHERE status IN {_ACTIVE_SQL} AND (leaseUntil < ?"
            " OR COALESCE(updatedAt, createdAt) < ?) ORDER BY createdAt LIMIT ?",
            (now_ms, now_ms - idle_ms, limit),
        )
        return _jobs_from_rows(rows)

    def requeue(self, job_id: str, now_ms: int, reason: str) -> JobRecord:
        with self._write() as db:
            job = self._job(db, job_id)
            if job.status in ACTIVE_STATUSES:
                db.execute(
                    f"UPDATE jobs SET status='pending', runAt=?, {_CLEAR_LEASE}, updatedAt=?,"
                    f" lastError=?, progress={self._lit('queued')} WHERE id=?",
                    (now_ms, now_ms, reason, job_id),
                )
                self._append_log(db, job_id, "info", f"Requeued: {reason}", now_ms)
            return self._job(db, job_id)

    def purge(self, before_ms: int, limit: int, dry_run: bool) -> list[str]:
        with self._write() as db:
            # A repository's latest completed job is its course: never a candidate.
            rows = db.execute(
                f"SELECT j.id FROM jobs j WHERE j.status IN {_FINAL_SQL}"
                " AND COALESCE(j.completedAt, j.updatedAt, j.createdAt) < ?"
                " AND NOT (j.status='completed' AND j.id IS ("
                + _LATEST_COMPLETED.replace("repositoryId=?", "repositoryId=j.repositoryId")
                + ")) ORDER BY j.createdAt LIMIT ?",
                (before_ms, limit),
            ).fetchall()
            ids = [r["id"] for r in rows]
            if not dry_run:
                for job_id in ids:
                    for table in ("jobSteps", "jobLogs", "docs"):
                        db.execute(f"DELETE FROM {table} WHERE jobId=?", (job_id,))
                    db.execute("DELETE FROM jobs WHERE id=?", (job_id,))
        return ids

    def owner_github_token(self, job_id: str, token: str) -> str | None:
        """None: the embedded store has no users; the clone uses GIT_TOKEN. Fenced, as
        on Convex, so a stale holder learns it lost the job here too."""
        with self._write() as db:
            self._fenced(db, job_id, token)
        return None

    def count_by_status(self) -> dict[str, int]:
        rows = self._read("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}

    def oldest_pending_created_at(self, now_ms: int) -> int | None:
        rows = self._read(
            "SELECT MIN(createdAt) AS c FROM jobs WHERE status='pending' AND runAt <= ?",
            (now_ms,),
        )
        value = rows[0]["c"] if rows else None
        return None if value is None else int(value)
