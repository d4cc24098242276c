"""What operators and the health view call (convex/functions/worker/ops.ts): stuck jobs,
requeue, purge, counts."""

from __future__ import annotations

from store.records import (
    ACTIVE_STATUSES,
    JobRecord,
)
from store.sqlite.core import (
    ACTIVE_SQL,
    CLEAR_LEASE,
    FINAL_SQL,
    LATEST_COMPLETED,
    SqliteCore,
    jobs_from_rows,
)


class OperatorCalls(SqliteCore):
    """The operators' tools and the health view's counts."""

    def list_stuck(self, now_ms: int, idle_ms: int, limit: int) -> list[JobRecord]:
        rows = self._read(
            f"SELECT * FROM jobs WHERE status IN {ACTIVE_SQL} AND (leaseUntil < ?"
            " OR COALESCE(updatedAt, createdAt) < ?) ORDER BY createdAt LIMIT ?",
            (now_ms, now_ms - idle_ms, limit),
        )
        return jobs_from_rows(rows)

    def requeue(self, job_id: str, now_ms: int, reason: str) -> JobRecord:
        with self._write() as db:
            job = self._job(db, job_id)
            if job.status in ACTIVE_STATUSES:
                db.execute(
                    f"UPDATE jobs SET status='pending', runAt=?, {CLEAR_LEASE}, updatedAt=?,"
                    f" lastError=?, progress={self._lit('queued')} WHERE id=?",
                    (now_ms, now_ms, reason, job_id),
                )
                self._append_log(db, job_id, "info", f"Requeued: {reason}", now_ms)
            return self._job(db, job_id)

    def purge(self, before_ms: int, limit: int, dry_run: bool) -> list[str]:
        with self._write() as db:
            # A repository's latest completed job is its course: never a candidate.
            rows = db.execute(
                f"SELECT j.id FROM jobs j WHERE j.status IN {FINAL_SQL}"
                " AND COALESCE(j.completedAt, j.updatedAt, j.createdAt) < ?"
                " AND NOT (j.status='completed' AND j.id IS ("
                + LATEST_COMPLETED.replace("repositoryId=?", "repositoryId=j.repositoryId")
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

    def count_by_status(self) -> dict[str, int]:
        rows = self._read("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
        return {r["status"]: int(r["n"]) for r in rows}

    def oldest_pending(self, now_ms: int) -> int | None:
        rows = self._read(
            "SELECT MIN(createdAt) AS c FROM jobs WHERE status='pending' AND runAt <= ?",
            (now_ms,),
        )
        value = rows[0]["c"] if rows else None
        return None if value is None else int(value)
