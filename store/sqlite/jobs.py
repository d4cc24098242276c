"""What clients call (the CLI, the web app's twin in convex/functions/worker/jobs.ts):
repositories, jobs, cancel and retry."""

from __future__ import annotations

import sqlite3

from fondation.errors import JobNotFound, MalformedJob
from fondation.steps import ANALYSIS_STEPS
from store.records import ACTIVE_STATUSES, JobRecord, JobSpec, RepositoryRecord, RepositorySpec
from store.sqlite.core import (
    CLEAR_LEASE,
    FINAL_SQL,
    SqliteCore,
    job_from_row,
    jobs_from_rows,
    new_id,
)

# Rows of one name looked at, oldest first (worker/jobs.ts: SAME_NAME_SCAN).
_SAME_NAME_SCAN = 32


def shared_repository(
    db: sqlite3.Connection, full_name: str, clone_url: str | None
) -> sqlite3.Row | None:
    """The oldest row named ``full_name`` that clones the same source, whoever made it:
    the row the web app's course page opens, which a CLI submission must reuse rather
    than make a second one. worker/jobs.ts (sharedRepository) makes the same choice."""
    wanted = _source_key(clone_url or _github_url(full_name))
    rows: list[sqlite3.Row] = db.execute(
        "SELECT * FROM repositories WHERE fullName = ? ORDER BY rowid LIMIT ?",
        (full_name, _SAME_NAME_SCAN),
    ).fetchall()
    for row in rows:
        if _source_key(row["cloneUrl"] or _github_url(row["fullName"])) == wanted:
            return row
    return None


def _github_url(full_name: str) -> str:
    return f"https://github.com/{full_name}"


def _source_key(url: str) -> str:
    """One spelling per source: the host's case, a trailing slash and ".git" do not
    matter."""
    return url.strip().lower().rstrip("/").removesuffix(".git")


class ClientCalls(SqliteCore):
    """Repositories and jobs as clients make and read them."""

    def upsert_repository(self, spec: RepositorySpec, now_ms: int) -> RepositoryRecord:
        with self._write() as db:
            shared = shared_repository(db, spec.full_name, spec.clone_url)
            if shared is not None and shared["userId"] != spec.user_id:
                # Another user's row (a web user's): used, and left as it is.
                return RepositoryRecord.model_validate(dict(shared))
            row = (
                shared
                or db.execute(
                    "SELECT id FROM repositories WHERE userId = ? AND fullName = ?",
                    (spec.user_id, spec.full_name),
                ).fetchone()
            )
            repo_id = row["id"] if row else new_id()
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
                    f"SELECT * FROM jobs WHERE dedupeKey = ? AND status NOT IN {FINAL_SQL}"
                    " ORDER BY createdAt LIMIT 1",
                    (spec.dedupe_key,),
                ).fetchone()
                if live is not None:
                    return job_from_row(live), False
            job_id = new_id()
            # A job's owner is its repository's owner, as in worker/jobs.ts: a CLI job on
            # a web user's repository is that user's job.
            repo = db.execute(
                "SELECT userId FROM repositories WHERE id = ?", (spec.repository_id,)
            ).fetchone()
            db.execute(
                "INSERT INTO jobs (id, userId, repositoryId, status, prompt, callbackToken,"
                " runAt, attempts, maxAttempts, dedupeKey, createdAt, updatedAt,"
                " totalSteps, ref, fresh, progress)"
                f" VALUES (?,?,?,'pending',?,?,?,0,?,?,?,?,?,?,?,{self._lit('queued')})",
                (
                    job_id,
                    repo["userId"] if repo is not None else spec.user_id,
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
                    None if spec.fresh is None else int(spec.fresh),
                ),
            )
            return self._job(db, job_id), True

    def get_job(self, job_id: str) -> JobRecord:
        rows = self._read("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise JobNotFound(job_id)
        return job_from_row(rows[0])

    def list_jobs(self, status: str | None = None, limit: int = 50) -> list[JobRecord]:
        if status:
            rows = self._read(
                "SELECT * FROM jobs WHERE status = ? ORDER BY createdAt DESC LIMIT ?",
                (status, limit),
            )
        else:
            rows = self._read("SELECT * FROM jobs ORDER BY createdAt DESC LIMIT ?", (limit,))
        return jobs_from_rows(rows)

    def request_cancel(self, job_id: str, now_ms: int) -> JobRecord:
        with self._write() as db:
            job = self._job(db, job_id)
            if job.status == "pending":
                db.execute(
                    f"UPDATE jobs SET status='canceled', cancelRequested=1, {CLEAR_LEASE},"
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
                f"UPDATE jobs SET status='pending', attempts=0, runAt=?, {CLEAR_LEASE},"
                " cancelRequested=NULL, error=NULL, completedAt=NULL, "
                f"progress={self._lit('queued')},"
                " updatedAt=? WHERE id=?",
                (now_ms, now_ms, job_id),
            )
            return self._job(db, job_id)
