"""Work kept for the later jobs of a repository (convex/functions/worker/reuse.ts): the
records of a key, and saving one. The repository is the job's own, read under the
job's lease, so no job reaches another repository's records. The two statements are
also run inside begin_step (the lookup) and complete (the save), in their own
transactions."""

from __future__ import annotations

import sqlite3

from store.records import (
    REUSE_VARIANTS_PER_KEY,
    ReuseEntry,
    ReuseKind,
    ReuseRecord,
    check_reuse_value,
)
from store.sqlite.core import SqliteCore


def reuse_records(
    db: sqlite3.Connection, repository_id: str, kind: ReuseKind, key: str
) -> list[ReuseRecord]:
    """The records of (kind, key) of the repository, newest first, at most
    ``REUSE_VARIANTS_PER_KEY``."""
    rows = db.execute(
        "SELECT * FROM reuseRecords WHERE repositoryId=? AND kind=? AND key=?"
        " ORDER BY createdAt DESC, rowid DESC LIMIT ?",
        (repository_id, kind, key, REUSE_VARIANTS_PER_KEY),
    ).fetchall()
    return [ReuseRecord.model_validate(dict(r)) for r in rows]


def keep_reuse(
    db: sqlite3.Connection, repository_id: str, job_id: str, entry: ReuseEntry, now_ms: int
) -> None:
    """Save ``entry`` as ``job_id``'s, replacing the record of the same (kind, key,
    variant); past ``REUSE_VARIANTS_PER_KEY`` records of the key the oldest goes."""
    db.execute(
        "INSERT INTO reuseRecords (repositoryId, kind, key, variant, value, jobId,"
        " createdAt) VALUES (?,?,?,?,?,?,?) ON CONFLICT (repositoryId, kind, key,"
        " variant) DO UPDATE SET value=excluded.value, jobId=excluded.jobId,"
        " createdAt=excluded.createdAt",
        (repository_id, entry.kind, entry.key, entry.variant, entry.value, job_id, now_ms),
    )
    db.execute(
        "DELETE FROM reuseRecords WHERE rowid IN (SELECT rowid FROM reuseRecords"
        " WHERE repositoryId=? AND kind=? AND key=? ORDER BY createdAt DESC,"
        " rowid DESC LIMIT -1 OFFSET ?)",
        (repository_id, entry.kind, entry.key, REUSE_VARIANTS_PER_KEY),
    )


class ReuseCalls(SqliteCore):
    """Reads and writes of the reuseRecords table, fenced by the job's lease."""

    def find_reuse(self, job_id: str, token: str, kind: ReuseKind, key: str) -> list[ReuseRecord]:
        with self._write() as db:
            job = self._fenced(db, job_id, token)
            return reuse_records(db, job["repositoryId"], kind, key)

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
        check_reuse_value(value)
        entry = ReuseEntry(kind=kind, key=key, variant=variant, value=value)
        with self._write() as db:
            repo = self._fenced(db, job_id, token)["repositoryId"]
            keep_reuse(db, repo, job_id, entry, now_ms)
