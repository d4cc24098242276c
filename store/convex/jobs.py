"""What clients call, in convex/functions/worker/jobs.ts: repositories, jobs, cancel
and retry."""

from __future__ import annotations


from store.convex.wire import (
    ConvexCore,
    job,
    record,
)
from store.records import (
    JobRecord,
    JobSpec,
    RepositoryRecord,
    RepositorySpec,
)


class ClientCalls(ConvexCore):
    """Repositories and jobs as clients make and read them."""

    def upsert_repository(self, spec: RepositorySpec, now_ms: int) -> RepositoryRecord:
        doc = self._call(
            "mutation",
            "worker/jobs:upsertRepository",
            {**spec.to_wire(), "now": now_ms},
            idempotent=True,
        )
        return record(RepositoryRecord, doc)

    def get_repository(self, repository_id: str) -> RepositoryRecord:
        return record(
            RepositoryRecord, self._query("worker/jobs:getRepository", repositoryId=repository_id)
        )

    def create_job(self, spec: JobSpec, now_ms: int) -> tuple[JobRecord, bool]:
        value = self._call(
            "mutation",
            "worker/jobs:createJob",
            {**spec.to_wire(), "now": now_ms},
            idempotent=spec.dedupe_key is not None,
        )
        return job(value["job"]), bool(value["created"])

    def get_job(self, job_id: str) -> JobRecord:
        return job(self._query("worker/jobs:getJob", jobId=job_id))

    def list_jobs(self, status: str | None = None, limit: int = 50) -> list[JobRecord]:
        return [job(d) for d in self._query("worker/jobs:listJobs", status=status, limit=limit)]

    def request_cancel(self, job_id: str, now_ms: int) -> JobRecord:
        doc = self._call(
            "mutation",
            "worker/jobs:requestCancel",
            {"jobId": job_id, "now": now_ms},
            idempotent=True,
        )
        return job(doc)

    def retry_job(self, job_id: str, now_ms: int) -> JobRecord:
        # Not retried: a repeat after success finds a pending job and is refused.
        doc = self._call(
            "mutation", "worker/jobs:retryJob", {"jobId": job_id, "now": now_ms}, idempotent=False
        )
        return job(doc)
