"""What the bridge calls, and a job's ending, in convex/functions/worker/queue.ts:
claims, leases, reclaims, release, cancel, complete and fail."""

from __future__ import annotations

from typing import Any

from store.convex.wire import (
    ConvexCore,
    job,
)
from store.records import (
    Claim,
    JobRecord,
    LeaseState,
    ReuseEntry,
    check_reuse_value,
    web_result,
)


class QueueCalls(ConvexCore):
    """The lease of a job, from its claim to its end."""

    def claim_batch(self, owner: str, limit: int, lease_ms: int, now_ms: int) -> list[Claim]:
        if limit <= 0:
            return []
        # Not retried: a lost answer leaves the jobs leased to us under tokens we never
        # saw; held_jobs() finds them, and otherwise their leases expire.
        claims = self._call(
            "mutation",
            "worker/queue:claimBatch",
            {"owner": owner, "limit": limit, "leaseMs": lease_ms, "now": now_ms},
            idempotent=False,
        )
        return [
            Claim(job=job(c["job"]), lease_token=c["leaseToken"], first_step=c.get("firstStep", 0))
            for c in claims
        ]

    def renew(self, job_id: str, token: str, lease_ms: int, now_ms: int) -> LeaseState:
        value = self._fenced(
            "worker/queue:renew", jobId=job_id, token=token, leaseMs=lease_ms, now=now_ms
        )
        return LeaseState.model_validate(value)

    def held_jobs(self, owner: str, limit: int) -> list[JobRecord]:
        return [job(d) for d in self._query("worker/queue:heldJobs", owner=owner, limit=limit)]

    def reclaim_expired(self, now_ms: int, limit: int) -> list[str]:
        # Safe to repeat: a second pass only reclaims leases that expired meanwhile.
        ids = self._call(
            "mutation",
            "worker/queue:reclaimExpired",
            {"limit": limit, "now": now_ms},
            idempotent=True,
        )
        return [str(i) for i in ids]

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
        # Optional arguments are left out when unset: a deployment of the previous
        # functions refuses arguments it does not declare.
        extra: dict[str, Any] = {}
        if run_at_ms is not None:
            extra["runAt"] = run_at_ms
        if progress is not None:
            extra["progress"] = progress
        self._fenced(
            "worker/queue:release", jobId=job_id, token=token, reason=reason, now=now_ms, **extra
        )

    def mark_canceled(self, job_id: str, token: str, now_ms: int) -> JobRecord:
        return job(self._fenced("worker/queue:markCanceled", jobId=job_id, token=token, now=now_ms))

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
        # Optional fields of the stored result take a missing key, not null.
        wire_result = web_result(result)
        extra: dict[str, Any] = {}
        if regeneration_stats is not None:
            extra["regenerationStats"] = regeneration_stats
        if keep is not None:
            check_reuse_value(keep.value)
            extra["keep"] = keep.to_wire()
        if log is not None:
            extra["log"] = log
        doc = self._fenced(
            "worker/queue:complete",
            jobId=job_id,
            token=token,
            result=wire_result,
            docsCount=docs_count,
            now=now_ms,
            **extra,
        )
        return job(doc)

    def fail(
        self,
        job_id: str,
        token: str,
        error: str,
        permanent: bool,
        now_ms: int,
        jitter_ms: int,
    ) -> JobRecord:
        # Retried: fenced, so a repeat of a call that did run is refused (LeaseLost)
        # and can never count an attempt twice.
        doc = self._fenced(
            "worker/queue:fail",
            jobId=job_id,
            token=token,
            error=error,
            permanent=permanent,
            jitterMs=jitter_ms,
            now=now_ms,
        )
        return job(doc)
