"""What the bridge calls, and a job's ending (convex/functions/worker/queue.ts): claims,
leases, reclaims, release, cancel, complete and fail."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

from fondation.errors import MalformedJob
from fondation.steps import ANALYSIS_STEPS, FINALIZE_STEP, STEP_NAMES, first_unfinished_step
from store.backoff import backoff_ms
from store.records import Claim, JobRecord, LeaseState, ReuseEntry, check_reuse_value, web_result
from store.sqlite.core import (
    ACTIVE_SQL,
    CLEAR_LEASE,
    LATEST_COMPLETED,
    RowMemo,
    SqliteCore,
    ended_under_holder,
    job_from_row,
    jobs_from_rows,
)
from store.sqlite.reuse import keep_reuse

log = logging.getLogger(__name__)


class QueueCalls(SqliteCore):
    """The lease of a job, from its claim to its end."""

    def claim_batch(self, owner: str, limit: int, lease_ms: int, now_ms: int) -> list[Claim]:
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
                    job = job_from_row(row)
                except MalformedJob as exc:
                    # Fail it for good, in this transaction: the other claims go on.
                    error = str(exc)
                    db.execute(
                        f"UPDATE jobs SET status='failed', {CLEAR_LEASE}, error=?, lastError=?,"
                        f" completedAt=?, updatedAt=?, progress={self._lit('failed')} WHERE id=?",
                        (error, error, now_ms, now_ms, row["id"]),
                    )
                    self._append_log(db, row["id"], "error", f"Failed: {error}", now_ms)
                    log.error("%s; failed it", error)
                    continue
                first = _first_unfinished_step(db, job.id)
                resume = f" from {STEP_NAMES[first]}" if first else ""
                self._append_log(db, job.id, "info", f"Claimed by {owner}{resume}", now_ms)
                claims.append(Claim(job=job, lease_token=row["leaseToken"], first_step=first))
        claims.sort(key=lambda c: (c.job.run_at or 0, c.job.created_at))
        return claims

    def renew(self, job_id: str, token: str, lease_ms: int, now_ms: int) -> LeaseState:
        with self._write() as db:
            current = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if current is not None and ended_under_holder(current, token):
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
            f"SELECT * FROM jobs WHERE lockedBy = ? AND status IN {ACTIVE_SQL}"
            " ORDER BY createdAt LIMIT ?",
            (owner, limit),
        )
        # A bridge asks on every wake-up, once per finished job on a busy stack, and most
        # rows have not changed since: parsing is most of the cost, so a row equal to one
        # parsed last time gets the same (frozen) record back.
        memo: RowMemo = {}
        jobs = jobs_from_rows(rows, reuse=self._held_memo.get(owner, {}), memo=memo)
        self._held_memo[owner] = memo
        return jobs

    def reclaim_expired(self, now_ms: int, limit: int) -> list[str]:
        with self._write() as db:
            rows = db.execute(
                f"UPDATE jobs SET status='pending', runAt=?, {CLEAR_LEASE}, updatedAt=?,"
                f" lastError='lease expired', progress={self._lit('queued')}"
                " WHERE id IN (SELECT id FROM jobs WHERE leaseUntil < ?"
                f" AND status IN {ACTIVE_SQL} ORDER BY leaseUntil LIMIT ?) RETURNING id",
                (now_ms, now_ms, now_ms, limit),
            ).fetchall()
        return [r["id"] for r in rows]

    def release(
        self,
        job_id: str,
        token: str,
        now_ms: int,
        reason: str,
        *,
        run_at_ms: int | None = None,
        progress: str | None = None,
    ) -> None:
        with self._write() as db:
            self._fenced(db, job_id, token)
            db.execute(
                f"UPDATE jobs SET status='pending', runAt=?, {CLEAR_LEASE}, updatedAt=?,"
                f" lastError=?, progress=COALESCE(?, {self._lit('queued')}) WHERE id=?",
                (run_at_ms if run_at_ms is not None else now_ms, now_ms, reason, progress,
                 job_id),
            )  # fmt: skip

    def mark_canceled(self, job_id: str, token: str, now_ms: int) -> JobRecord:
        with self._write() as db:
            self._fenced(db, job_id, token)
            db.execute(
                f"UPDATE jobs SET status='canceled', {CLEAR_LEASE}, "
                f"progress={self._lit('canceled')},"
                " completedAt=?, updatedAt=? WHERE id=?",
                (now_ms, now_ms, job_id),
            )
            return self._job(db, job_id)

    def complete(
        self,
        job_id: str,
        token: str,
        result: dict[str, Any],
        docs_count: int,
        now_ms: int,
        regeneration_stats: dict[str, int] | None = None,
        keep: ReuseEntry | None = None,
        log: str | None = None,
    ) -> JobRecord:
        if keep is not None:
            check_reuse_value(keep.value)
        with self._write() as db:
            row = db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
            # A repeat after a lost answer: our own completion is already there. The
            # completing token is kept on the job for exactly this check.
            if row is not None and row["status"] == "completed" and row["leaseToken"] == token:
                return job_from_row(row)
            held = self._fenced(db, job_id, token)
            db.execute(
                "UPDATE jobs SET status='completed', lockedBy=NULL, leaseUntil=NULL, result=?,"
                f" docsCount=?, completedAt=?, updatedAt=?, progress={self._lit('completed')},"
                " currentStep=?, error=NULL,"
                " regenerationStats=COALESCE(?, regenerationStats) WHERE id=?",
                (
                    json.dumps(web_result(result)),
                    docs_count,
                    now_ms,
                    now_ms,
                    ANALYSIS_STEPS,
                    None if regeneration_stats is None else json.dumps(regeneration_stats),
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
            if keep is not None:
                keep_reuse(db, held["repositoryId"], job_id, keep, now_ms)
            if log is not None:
                self._append_log(db, job_id, "info", log, now_ms)
            self._append_log(db, job_id, "info", "Completed", now_ms)
            # The repository keeps one course: the other completed jobs' docs go.
            latest = db.execute(LATEST_COMPLETED, (repo_id,)).fetchone()
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
                    f"UPDATE jobs SET status='failed', {CLEAR_LEASE}, attempts=?, error=?,"
                    f" lastError=?, completedAt=?, updatedAt=?, progress={self._lit('failed')}"
                    " WHERE id=?",
                    (attempts, error, error, now_ms, now_ms, job_id),
                )
                self._append_log(db, job_id, "error", f"Failed: {error}", now_ms)
            elif attempts >= int(row["maxAttempts"]):
                db.execute(
                    f"UPDATE jobs SET status='dead', {CLEAR_LEASE}, attempts=?, error=?,"
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
                    f"UPDATE jobs SET status='pending', {CLEAR_LEASE}, attempts=?,"
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


def _first_unfinished_step(db: sqlite3.Connection, job_id: str) -> int:
    """The first step without a completed record (a retried job resumes there), at most
    the last step."""
    done = {
        r[0]
        for r in db.execute(
            "SELECT step FROM jobSteps WHERE jobId=? AND status='completed'", (job_id,)
        )
    }
    return first_unfinished_step(done)
