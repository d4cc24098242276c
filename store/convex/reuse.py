"""Work kept for the later jobs of a repository, in convex/functions/worker/reuse.ts.
The functions read the repository from the job under its lease token, so a job never
reaches another repository's records."""

from __future__ import annotations

from collections.abc import Mapping

from fondation.errors import MalformedJob
from store.convex.wire import ConvexCore
from store.records import REUSE_VALUE_MAX_CHARS, ReuseKind, ReuseRecord


class ReuseCalls(ConvexCore):
    """Reads and writes of the reuseRecords table, fenced by the job's lease."""

    def find_reuse(self, job_id: str, token: str, kind: ReuseKind, key: str) -> list[ReuseRecord]:
        docs = self._query("worker/reuse:findReuse", jobId=job_id, token=token, kind=kind, key=key)
        if not isinstance(docs, list) or not all(isinstance(d, Mapping) for d in docs):
            raise MalformedJob(f"Convex's reuse:findReuse answered {str(docs)[:200]!r}")
        return [ReuseRecord.model_validate(dict(d)) for d in docs]

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
        # Keyed by (repository, kind, key, variant): a repeat replaces the same record.
        self._fenced(
            "worker/reuse:saveReuse",
            jobId=job_id,
            token=token,
            kind=kind,
            key=key,
            variant=variant,
            value=value,
            now=now_ms,
        )
