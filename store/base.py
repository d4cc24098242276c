"""The ``JobStore`` contract: what any job database must do for the bridge and the workers.

The model is Convex's: each method is one serializable transaction over documents. Every
write made after a claim carries the claim's lease token and raises ``LeaseLost`` when the
token is not the job's current one or the job is final; that fencing is what makes a
stale worker or bridge harmless. Times are epoch milliseconds passed in as ``now_ms`` so
that tests set the clock.

Idempotency of each write is stated on the method: the Convex store retries a call whose
answer was lost, so a write must be safe to repeat.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from store.records import (
    Claim,
    DocRecord,
    DocSpec,
    JobLogRecord,
    JobProgress,
    JobRecord,
    JobSpec,
    LeaseState,
    LogLevel,
    RepositoryRecord,
    RepositorySpec,
    ReuseEntry,
    ReuseKind,
    ReuseRecord,
    StepRecord,
    StepStart,
    StepState,
)


class JobStore(abc.ABC):
    """One job database. Implementations: ``SqliteStore`` and ``ConvexStore``.

    Progress texts (``progress``) are written in the store's progress language
    (store/progress.py); job log lines are always English.
    """

    # Whether each job's repository owner has a GitHub token of their own in the store
    # (the web app's users), read with ``owner_github_token``. When False the clone
    # uses the deployment's GIT_TOKEN.
    per_user_tokens: bool = False
    # Whether the store returns jobs whose lease expired to pending by itself (a Convex
    # deployment's cron, convex/functions/worker/crons.ts); when False the bridges call
    # ``reclaim_expired``.
    reclaims_expired_leases: bool = False

    # --- clients (CLI, web app) -------------------------------------------------------

    @abc.abstractmethod
    def upsert_repository(self, spec: RepositorySpec, now_ms: int) -> RepositoryRecord:
        """The repository row a submission of ``spec.full_name`` belongs to. Idempotent.

        The oldest row of that name cloning the same source (``cloneUrl``, else
        github.com/<fullName>), whoever made it, is the one the web app's course page
        and Regenerate work on: a row of another user (a web user's) is returned as it
        is, untouched. Else the caller's own row of that name is updated, or inserted."""

    @abc.abstractmethod
    def get_repository(self, repository_id: str) -> RepositoryRecord:
        """Raise ``JobNotFound`` (naming the repository) when it does not exist."""

    @abc.abstractmethod
    def create_job(self, spec: JobSpec, now_ms: int) -> tuple[JobRecord, bool]:
        """Insert a pending job; return (job, created).

        When ``dedupe_key`` is held by a job that is not final, return that job and
        False instead. Idempotent through the dedupe key.
        """

    @abc.abstractmethod
    def get_job(self, job_id: str) -> JobRecord:
        """Raise ``JobNotFound`` when there is no such job."""

    @abc.abstractmethod
    def list_jobs(self, status: str | None = None, limit: int = 50) -> list[JobRecord]:
        """Newest first, at most ``limit``."""

    @abc.abstractmethod
    def request_cancel(self, job_id: str, now_ms: int) -> JobRecord:
        """Cancel a job. A pending job becomes canceled at once; an active one gets
        ``cancelRequested`` and its holder finishes the cancel. A final job is returned
        unchanged. Idempotent."""

    @abc.abstractmethod
    def retry_job(self, job_id: str, now_ms: int) -> JobRecord:
        """Put a failed, dead or canceled job back to pending with attempts reset.
        Completed step artifacts are kept, so the run resumes where it stopped."""

    # --- the bridge -------------------------------------------------------------------

    @abc.abstractmethod
    def claim_batch(self, owner: str, limit: int, lease_ms: int, now_ms: int) -> list[Claim]:
        """Atomically lease up to ``limit`` ready jobs (pending, runAt <= now, oldest
        first) to ``owner``; each gets a fresh lease token and status ``claimed``.
        Two concurrent callers never receive the same job."""

    @abc.abstractmethod
    def renew(self, job_id: str, token: str, lease_ms: int, now_ms: int) -> LeaseState:
        """Extend the lease. Only the token holder may renew and only an active job:
        a renewal never brings a final job back. Raises ``LeaseLost``. A job ended
        under its holder (the web app writes ``canceled`` into status, leaving the
        lease) is not extended and answers ``cancel_requested``, so the holder stops
        its running step; every fenced write then raises ``CancelRequested``.
        Idempotent."""

    @abc.abstractmethod
    def held_jobs(self, owner: str, limit: int) -> list[JobRecord]:
        """Active jobs whose lease ``owner`` holds (bounded by ``limit``)."""

    @abc.abstractmethod
    def reclaim_expired(self, now_ms: int, limit: int) -> list[str]:
        """Return up to ``limit`` active jobs whose lease expired to pending (runAt now,
        lease cleared) and return their ids. Reads a bounded index range."""

    @abc.abstractmethod
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
        """Give a held job back: pending, attempts unchanged, ready at ``run_at_ms``
        (now when None), ``progress`` saying why it waits (the queued text when None).
        Used on a graceful stop for jobs whose work has not started, and by a step that
        must wait for a limit the fleet shares. Fenced."""

    @abc.abstractmethod
    def mark_canceled(self, job_id: str, token: str, now_ms: int) -> JobRecord:
        """Finish a requested cancel: status canceled, lease cleared. Fenced."""

    # --- the workers ------------------------------------------------------------------

    @abc.abstractmethod
    def begin_step(
        self,
        job_id: str,
        token: str,
        step: int,
        worker: str,
        now_ms: int,
        reuse_key: tuple[ReuseKind, str] | None = None,
    ) -> StepStart:
        """Record that ``step`` starts: job status, currentStep and progress text
        ("Step k/6: <name>"), the step's run count, and a job log line. Returns, read in
        the same transaction, the step record, the job as updated, its repository and
        every step record of the job (the artifacts the step works from), and with
        ``reuse_key`` (kind, key) the records ``find_reuse`` would answer for it (a call
        saved), and for the save step (7) whether the job has docs stored (``has_docs``:
        it reads them back only then). A job whose chapters already show (status
        ``running``, see ``publish_chapters``) stays ``running`` for the rest of its
        attempt. A step already completed is returned unchanged (status ``completed``)
        and nothing is written, so the caller skips it. Fenced; raises
        ``CancelRequested`` when the job's cancel was requested, so no later step
        starts. Running it twice counts two runs and writes the line twice; the caller
        runs the step once per delivery."""

    @abc.abstractmethod
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
        """Store the step's artifact (and what its engine spent, as JSON) durably and
        mark it completed, with ``log`` as an info line of the job log in the same write
        (a call saved). Running it twice with the same artifact leaves one completed
        record (and the line twice). Fenced."""

    @abc.abstractmethod
    def get_steps(self, job_id: str) -> list[StepRecord]:
        """Every step record of the job, by step number, with its artifact."""

    @abc.abstractmethod
    def step_states(self, job_id: str) -> list[StepState]:
        """Every step's state, by step number, without artifacts: the light read."""

    @abc.abstractmethod
    def job_progress(self, job_id: str) -> JobProgress:
        """The job and its step states, in one read (``JobNotFound`` if it is gone)."""

    @abc.abstractmethod
    def append_log(self, job_id: str, level: LogLevel, msg: str, now_ms: int) -> int:
        """Append a job log line with the next ``seq``; return it. Not fenced: logs
        from a stale holder are still facts. Not idempotent (a repeat adds a line)."""

    @abc.abstractmethod
    def get_logs(self, job_id: str, after_seq: int = -1, limit: int = 1000) -> list[JobLogRecord]:
        """Log lines with seq > after_seq, oldest first."""

    @abc.abstractmethod
    def upsert_docs(self, job_id: str, token: str, docs: Sequence[DocSpec], now_ms: int) -> int:
        """Insert or replace the job's docs by (jobId, slug). Returns the number
        written. Idempotent. Fenced. A chapter or tutorial whose content is blank is
        refused with ``MalformedJob`` and nothing is written, as the web app's own
        ``docs.upsertFromJob`` refuses one."""

    @abc.abstractmethod
    def publish_chapters(
        self,
        job_id: str,
        token: str,
        docs: Sequence[DocSpec],
        ready: int,
        total: int,
        now_ms: int,
    ) -> int:
        """Store the docs of chapters whose review has ended while the job still runs, so
        the course page shows them at once. Docs are inserted or replaced by (jobId,
        slug) as ``upsert_docs`` does, and must be chapters. The job's status becomes
        ``running``, the status under which the page shows the job's progress beside its
        docs, and its progress says that ``ready`` of ``total`` chapters are ready;
        ``docsCount`` is left to ``complete``. Returns the number written. Idempotent.
        Fenced, so a holder whose lease was lost writes nothing; raises
        ``CancelRequested`` when the job's cancel was requested."""

    @abc.abstractmethod
    def remove_docs(self, job_id: str, token: str, slugs: Sequence[str], now_ms: int) -> int:
        """Delete the job's docs with these slugs: docs an earlier run of a step stored
        that the finished course no longer has (a chapter now cut into parts, or no
        longer cut). Returns the number deleted; a slug without a doc is skipped, so a
        repeat deletes nothing more. Fenced."""

    @abc.abstractmethod
    def get_docs(self, job_id: str) -> list[DocRecord]:
        """The job's docs by kind then chapterIndex."""

    @abc.abstractmethod
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
        """Mark the job completed, and its finalize step (7) if started, and clear its
        lease. ``result`` is the web app's ``{success, message?, data?: str}``;
        ``docs_count`` is what the user sees (every doc the course page lists);
        ``regeneration_stats`` the web's ``regenerationStats`` (how the course differs
        from the repository's previous one), written when given. ``keep`` is saved
        for the later jobs of the repository as ``save_reuse`` saves it (a value
        longer than ``REUSE_VALUE_MAX_CHARS`` is refused with ``ValueError`` and
        nothing is written), and ``log`` is an info line of the job log written
        before the "Completed" one: both in the same transaction, calls saved.
        The docs of the repository's other completed jobs are removed (the latest
        completed job, the last created, keeps its course: the web app opens it). A
        repeat by the same holder after success returns the completed job and writes
        nothing (so neither the record nor the line twice). Fenced."""

    @abc.abstractmethod
    def fail(
        self,
        job_id: str,
        token: str,
        error: str,
        permanent: bool,
        now_ms: int,
        jitter_ms: int,
    ) -> JobRecord:
        """Record a failed attempt. Permanent: status failed. Otherwise attempts+1 and,
        below maxAttempts, pending again after ``backoff_ms(attempts) + jitter_ms``;
        at maxAttempts, dead. Fenced, so a repeat raises ``LeaseLost``."""

    @abc.abstractmethod
    def owner_github_token(self, job_id: str, token: str) -> str | None:
        """The GitHub token of the job's repository owner, as stored (the web app
        encrypts it; the caller decrypts), or None when there is none. Fenced by the
        lease token, so only the job's holder gets it. Never log the value."""

    # --- reuse across the jobs of a repository -----------------------------------------

    @abc.abstractmethod
    def find_reuse(self, job_id: str, token: str, kind: ReuseKind, key: str) -> list[ReuseRecord]:
        """The records of ``key`` kept for the job's own repository, newest first, at most
        ``REUSE_VARIANTS_PER_KEY``. The repository is read from the job, so a job never
        sees another repository's records. Fenced (a read: a repeat is harmless)."""

    @abc.abstractmethod
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
        """Keep ``value`` for later jobs of the job's repository under (kind, key,
        variant), replacing a record with the same three; past ``REUSE_VARIANTS_PER_KEY``
        records of the key the oldest goes. A value longer than ``REUSE_VALUE_MAX_CHARS``
        is refused with ``ValueError``. Idempotent. Fenced."""

    # --- operations -------------------------------------------------------------------

    @abc.abstractmethod
    def list_stuck(self, now_ms: int, idle_ms: int, limit: int) -> list[JobRecord]:
        """Active jobs whose lease expired, or that have not been updated for
        ``idle_ms`` (a lease kept alive while nothing progresses). Oldest first."""

    @abc.abstractmethod
    def requeue(self, job_id: str, now_ms: int, reason: str) -> JobRecord:
        """Operator's override: an active job goes back to pending, ready now, its lease
        cleared (any holder is fenced off), attempts unchanged. A job that is not active
        is returned unchanged."""

    @abc.abstractmethod
    def purge(self, before_ms: int, limit: int, dry_run: bool) -> list[str]:
        """Delete up to ``limit`` final jobs finished before ``before_ms``, with their
        step records, logs and docs. A repository's latest completed job is never
        deleted: it is the course the web app shows. Returns their ids; with
        ``dry_run`` nothing is deleted."""

    @abc.abstractmethod
    def count_by_status(self) -> dict[str, int]:
        """Jobs per status, read from bounded index ranges."""

    @abc.abstractmethod
    def oldest_pending(self, now_ms: int) -> int | None:
        """createdAt of the oldest ready pending job, or None."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
