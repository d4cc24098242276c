"""Work kept for the later jobs of a repository (convex/functions/worker/reuse.ts): the
records of a key, and saving one. The repository is the job's own, read under the
job's lease, so no job reaches another repository's records."""

from __future__ import annotations

from store.records import (
    REUSE_VALUE_MAX_CHARS,
    REUSE_VARIANTS_PER_KEY,
    ReuseKind,
    ReuseRecord,
)
from store.sqlite.core import SqliteCore


class ReuseCalls(SqliteCore):
    """Reads and writes of the reuseRecords table, fenced by the job's lease."""

    def find_reuse(self, job_id: str, token: str, kind: ReuseKind, key: str) -> list[ReuseRecord]:
        with self._write() as db:
            job = self._fenced(db, job_id, token)
            rows = db.execute(
                "SELECT * FROM reuseRecords WHERE repositoryId=? AND kind=? AND key=?"
                " ORDER BY createdAt DESC, rowid DESC LIMIT ?",
                (job["repositoryId"], kind, key, REUSE_VARIANTS_PER_KEY),
            ).fetchall()
        return [ReuseRecord.model_validate(dict(r)) for r in rows]

    def save_reuse(
        self,
        job_id: str,
        token: str,
        kind: ReuseKind,
        key: str,
        variant: str,
        value: str,
        now_ms: int,
    ) -> None:
        if len(value) > REUSE_VALUE_MAX_CHARS:
            raise ValueError(f"a reuse record holds at most {REUSE_VALUE_MAX_CHARS} characters")
        with self._write() as db:
            repo = self._fenced(db, job_id, token)["repositoryId"]
            db.execute(
                "INSERT INTO reuseRecords (repositoryId, kind, key, variant, value, jobId,"
                " createdAt) VALUES (?,?,?,?,?,?,?) ON CONFLICT (repositoryId, kind, key,"
                " variant) DO UPDATE SET value=excluded.value, jobId=excluded.jobId,"
                " createdAt=excluded.createdAt",
                (repo, kind, key, variant, value, job_id, now_ms),
            )
            db.execute(
                "DELETE FROM reuseRecords WHERE rowid IN (SELECT rowid FROM reuseRecords"
                " WHERE repositoryId=? AND kind=? AND key=? ORDER BY createdAt DESC,"
                " rowid DESC LIMIT -1 OFFSET ?)",
                (repo, kind, key, REUSE_VARIANTS_PER_KEY),
            )
