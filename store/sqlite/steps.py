"""What a running step calls (convex/functions/worker/steps.ts): start and finish a
step, its logs, the course's docs."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from fondation.errors import CancelRequested, JobNotFound, MalformedJob
from fondation.steps import ANALYSIS_STEPS, FINALIZE_STEP, STEP_NAMES, step_status
from store.progress import (
    chapters_ready_progress,
    step_log_line,
    step_progress,
)
from store.records import (
    DocRecord,
    DocSpec,
    JobLogRecord,
    JobProgress,
    LogLevel,
    RepositoryRecord,
    ReuseKind,
    StepRecord,
    StepStart,
    StepState,
)
from store.sqlite.core import (
    SqliteCore,
    job_from_row,
    new_id,
)
from store.sqlite.reuse import reuse_records


class StepCalls(SqliteCore):
    """A step's fenced writes and the reads of its results."""

    def begin_step(
        self,
        job_id: str,
        token: str,
        step: int,
        worker: str,
        now_ms: int,
        reuse_key: tuple[ReuseKind, str] | None = None,
    ) -> StepStart:
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
                # Chapters already show: the page keeps its progress beside them.
                status = "running" if job["status"] == "running" else step_status(step)
                job = db.execute(
                    "UPDATE jobs SET status=?, currentStep=?, progress=?, updatedAt=?"
                    " WHERE id=? RETURNING *",
                    (status, min(step, ANALYSIS_STEPS), text, now_ms, job_id),
                ).fetchone()
                line = f"{step_log_line(step)} (worker {worker})"
                self._append_log(db, job_id, "info", line, now_ms)
            repo = db.execute(
                "SELECT * FROM repositories WHERE id = ?", (job["repositoryId"],)
            ).fetchone()
            reuse = [] if reuse_key is None else reuse_records(db, job["repositoryId"], *reuse_key)
            has_docs = None
            if step == FINALIZE_STEP:
                found = db.execute("SELECT 1 FROM docs WHERE jobId=? LIMIT 1", (job_id,))
                has_docs = found.fetchone() is not None
        steps = {n: StepRecord.model_validate(dict(r)) for n, r in sorted(rows.items())}
        return StepStart(
            step=steps[step],
            job=job_from_row(job),
            repository=None if repo is None else RepositoryRecord.model_validate(dict(repo)),
            steps=list(steps.values()),
            reuse=reuse,
            has_docs=has_docs,
        )

    def finish_step(
        self,
        job_id: str,
        token: str,
        step: int,
        artifact: str,
        now_ms: int,
        usage: str | None = None,
        log: str | None = None,
    ) -> None:
        with self._write() as db:
            self._fenced(db, job_id, token)
            if log is not None:
                self._append_log(db, job_id, "info", log, now_ms)
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

    def job_progress(self, job_id: str) -> JobProgress:
        # Two local reads; what the web app's Convex deployment does in one call.
        rows = self._read("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise JobNotFound(job_id)
        return JobProgress(job=job_from_row(rows[0]), steps=self.step_states(job_id))

    def step_states(self, job_id: str) -> list[StepState]:
        rows = self._read(
            "SELECT jobId, step, name, status, runs, startedAt, completedAt, worker, usage"
            " FROM jobSteps WHERE jobId=? ORDER BY step",
            (job_id,),
        )
        return [StepState.model_validate(dict(r)) for r in rows]

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
        _refuse_blank(docs)
        with self._write() as db:
            job = self._fenced(db, job_id, token)
            _write_docs(db, job, docs, now_ms)
        return len(docs)

    def publish_chapters(
        self,
        job_id: str,
        token: str,
        docs: Sequence[DocSpec],
        ready: int,
        total: int,
        now_ms: int,
    ) -> int:
        others = sorted({d.kind for d in docs} - {"chapter"})
        if others:
            raise ValueError(f"publish_chapters stores chapters only, not {others}")
        _refuse_blank(docs)
        with self._write() as db:
            job = self._fenced(db, job_id, token)
            if job["cancelRequested"]:
                raise CancelRequested(job_id)
            _write_docs(db, job, docs, now_ms)
            db.execute(
                "UPDATE jobs SET status='running', progress=?, updatedAt=? WHERE id=?",
                (chapters_ready_progress(ready, total, self._language), now_ms, job_id),
            )
        return len(docs)

    def remove_docs(self, job_id: str, token: str, slugs: Sequence[str], now_ms: int) -> int:
        with self._write() as db:
            self._fenced(db, job_id, token)
            removed = 0
            for slug in slugs:
                cur = db.execute("DELETE FROM docs WHERE jobId=? AND slug=?", (job_id, slug))
                removed += cur.rowcount
        return removed

    def get_docs(self, job_id: str) -> list[DocRecord]:
        rows = self._read(
            "SELECT * FROM docs WHERE jobId=? ORDER BY kind, chapterIndex, slug", (job_id,)
        )
        return [DocRecord.model_validate(dict(r)) for r in rows]


def _refuse_blank(docs: Sequence[DocSpec]) -> None:
    for doc in docs:  # as the web's docs.upsertFromJob: never a blank chapter or tutorial
        if doc.kind in ("chapter", "tutorial") and not doc.content.strip():
            raise MalformedJob(f"{doc.kind} {doc.slug} has no content; blank docs are not stored")


def _write_docs(
    db: sqlite3.Connection, job: sqlite3.Row, docs: Sequence[DocSpec], now_ms: int
) -> None:
    """Insert or replace ``docs`` by (jobId, slug); a replaced doc keeps its createdAt."""
    for doc in docs:
        db.execute(
            "INSERT INTO docs (id, jobId, repositoryId, slug, title, chapterIndex,"
            " kind, content, createdAt, sourceKey, runId) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(jobId, slug) DO UPDATE SET title=excluded.title,"
            " chapterIndex=excluded.chapterIndex, kind=excluded.kind,"
            " content=excluded.content, sourceKey=excluded.sourceKey,"
            " updatedAt=excluded.createdAt",
            (
                new_id(),
                job["id"],
                job["repositoryId"],
                doc.slug,
                doc.title,
                doc.chapter_index,
                doc.kind,
                doc.content,
                now_ms,
                doc.source_key,
                job["runId"],
            ),
        )
