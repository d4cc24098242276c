"""What operators and the health view call, in convex/functions/worker/ops.ts: stuck
jobs, requeue, purge, counts."""

from __future__ import annotations


from store.convex.wire import (
    ConvexCore,
    job,
)
from store.records import (
    JobRecord,
)


class OperatorCalls(ConvexCore):
    """The operators' tools and the health view's counts."""

    def list_stuck(self, now_ms: int, idle_ms: int, limit: int) -> list[JobRecord]:
        rows = self._query("worker/ops:listStuck", now=now_ms, idleMs=idle_ms, limit=limit)
        return [job(d) for d in rows]

    def requeue(self, job_id: str, now_ms: int, reason: str) -> JobRecord:
        # Safe to repeat: a requeued job is pending, which a second requeue leaves alone.
        doc = self._call(
            "mutation",
            "worker/ops:requeue",
            {"jobId": job_id, "reason": reason, "now": now_ms},
            idempotent=True,
        )
        return job(doc)

    def purge(self, before_ms: int, limit: int, dry_run: bool) -> list[str]:
        """At most 100 jobs per call; a job with more log lines than one transaction
        deletes is finished by the next call (and reported then)."""
        ids = self._call(
            "mutation",
            "worker/ops:purge",
            {"before": before_ms, "limit": limit, "dryRun": dry_run},
            idempotent=True,
        )
        return [str(i) for i in ids]

    def count_by_status(self) -> dict[str, int]:
        """Counts per status; each is capped server-side (1000), see ``count_by_status_capped``."""
        return {status: count for status, (count, _) in self.count_by_status_capped().items()}

    def count_by_status_capped(self) -> dict[str, tuple[int, bool]]:
        """(count, capped) per status; capped means "at least count"."""
        rows = self._query("worker/ops:countByStatus")
        return {r["status"]: (int(r["count"]), bool(r["capped"])) for r in rows}

    def oldest_pending(self, now_ms: int) -> int | None:
        value = self._query("worker/ops:oldestPending", now=now_ms)
        return None if value is None else int(value)
