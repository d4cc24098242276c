"""What a running step calls, in convex/functions/worker/steps.ts: start and finish a
step (its artifact in parts when large), its logs, the course's docs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from store.convex.wire import (
    DOCS_PAGE,
    REMOVE_DOCS_PER_CALL,
    LOG_PAGE,
    ConvexCore,
    artifact_parts,
    doc_chunks,
    job,
    record,
)
from fondation.steps import STEP_NAMES
from store.records import (
    DocRecord,
    DocSpec,
    JobLogRecord,
    JobProgress,
    LogLevel,
    RepositoryRecord,
    ReuseKind,
    ReuseRecord,
    StepRecord,
    StepState,
    StepStart,
)
from fondation.errors import (
    MalformedJob,
)


class StepCalls(ConvexCore):
    """A step's fenced writes and the reads of its results."""

    def begin_step(
        self,
        job_id: str,
        token: str,
        step: int,
        worker: str,
        now_ms: int,
        reuse_key: tuple[ReuseKind, str] | None = None,
    ) -> StepStart:
        if not 0 <= step < len(STEP_NAMES):
            raise ValueError(f"no step {step}")
        # The step's record together with what the step needs, in one request.
        extra: dict[str, Any] = {}
        if reuse_key is not None:
            extra["reuseKey"] = {"kind": reuse_key[0], "key": reuse_key[1]}
        doc = self._fenced(
            "worker/steps:beginStep",
            jobId=job_id,
            token=token,
            step=step,
            worker=worker,
            now=now_ms,
            **extra,
        )
        if not isinstance(doc, Mapping) or not {"step", "job", "steps"} <= doc.keys():
            raise MalformedJob(f"Convex's steps:beginStep answered {str(doc)[:200]!r}")
        repo = doc.get("repository")
        return StepStart(
            step=self._step(doc["step"]),
            job=job(doc["job"]),
            repository=None if repo is None else record(RepositoryRecord, repo),
            steps=[self._step(d) for d in doc["steps"]],
            reuse=[ReuseRecord.model_validate(dict(d)) for d in doc.get("reuse", [])],
            has_docs=doc.get("hasDocs"),
        )

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
        if not 0 <= step < len(STEP_NAMES):
            raise ValueError(f"no step {step}")
        extra: dict[str, Any] = {} if usage is None else {"usage": usage}
        if log is not None:
            extra["log"] = log
        parts = artifact_parts(artifact)
        if len(parts) > 1:
            # Each piece is fenced and replaces itself when sent again, so a retry or a
            # second run of the step rewrites them; finishStep then names the count.
            for part, data in enumerate(parts):
                self._fenced(
                    "worker/steps:putArtifactPart", jobId=job_id, token=token, step=step, part=part,
                    data=data,
                )  # fmt: skip
            artifact, extra["parts"] = "", len(parts)
        self._fenced(
            "worker/steps:finishStep", jobId=job_id, token=token, step=step, artifact=artifact,
            now=now_ms, **extra,
        )  # fmt: skip

    def get_steps(self, job_id: str) -> list[StepRecord]:
        return [self._step(d) for d in self._query("worker/steps:getSteps", jobId=job_id)]

    def job_progress(self, job_id: str) -> JobProgress:
        doc = self._query("worker/steps:getJobProgress", jobId=job_id)
        return JobProgress(job=job(doc["job"]), steps=[record(StepState, d) for d in doc["steps"]])

    def step_states(self, job_id: str) -> list[StepState]:
        docs = self._query("worker/steps:getStepStates", jobId=job_id)
        return [record(StepState, d) for d in docs]

    def _step(self, doc: Mapping[str, Any]) -> StepRecord:
        """A step record, with an artifact stored in pieces joined back together."""
        count = doc.get("artifactParts")
        if not count:
            return record(StepRecord, doc)
        job_id, step = str(doc.get("jobId")), int(doc.get("step", -1))
        pieces: list[str] = []
        while len(pieces) < count:
            args = {"jobId": job_id, "step": step, "from": len(pieces)}
            page = self._call("query", "worker/steps:getArtifactParts", args, idempotent=True)
            before = len(pieces)
            for piece in page:
                if piece.get("part") != len(pieces) or len(pieces) == count:
                    break
                pieces.append(str(piece.get("data", "")))
            if len(pieces) == before:
                raise MalformedJob(
                    f"job {job_id} step {step}: artifact piece {before} of {count} is missing"
                )
        return record(StepRecord, {**doc, "artifact": "".join(pieces)})

    def append_log(self, job_id: str, level: LogLevel, msg: str, now_ms: int) -> int:
        # Not retried: a repeat would add the line twice.
        seq = self._call(
            "mutation",
            "worker/steps:appendLog",
            {"jobId": job_id, "level": level, "msg": msg, "now": now_ms},
            idempotent=False,
        )
        return int(seq)

    def get_logs(self, job_id: str, after_seq: int = -1, limit: int = 1000) -> list[JobLogRecord]:
        lines: list[JobLogRecord] = []
        while len(lines) < limit:
            want = min(limit - len(lines), LOG_PAGE)
            page = self._query("worker/steps:getLogs", jobId=job_id, afterSeq=after_seq, limit=want)
            lines.extend(record(JobLogRecord, d) for d in page)
            if len(page) < want:
                break
            after_seq = lines[-1].seq
        return lines

    def upsert_docs(self, job_id: str, token: str, docs: Sequence[DocSpec], now_ms: int) -> int:
        # Idempotent per doc, so splitting into several transactions is safe.
        written = 0
        for chunk in doc_chunks(docs):
            written += int(
                self._fenced(
                    "worker/steps:upsertDocs",
                    jobId=job_id,
                    token=token,
                    docs=[d.to_wire() for d in chunk],
                    now=now_ms,
                )
            )
        if not docs:
            self._fenced("worker/steps:upsertDocs", jobId=job_id, token=token, docs=[], now=now_ms)
        return written

    def publish_chapters(
        self,
        job_id: str,
        token: str,
        docs: Sequence[DocSpec],
        ready: int,
        total: int,
        now_ms: int,
    ) -> int:
        others = sorted({d.kind for d in docs} - {"chapter"})
        if others:
            raise ValueError(f"publish_chapters stores chapters only, not {others}")
        # A chapter in parts may not fit one transaction: each call is fenced and
        # idempotent per doc, as upsert_docs's are.
        written = 0
        chunks: list[list[DocSpec]] = list(doc_chunks(docs)) or [[]]
        for chunk in chunks:
            written += int(
                self._fenced(
                    "worker/steps:publishChapters", jobId=job_id, token=token,
                    docs=[d.to_wire() for d in chunk], ready=ready, total=total, now=now_ms,
                )  # fmt: skip
            )
        return written

    def remove_docs(self, job_id: str, token: str, slugs: Sequence[str], now_ms: int) -> int:
        # A doc is read to be deleted: a few per call keeps each transaction's reads
        # (16 MiB) well clear of docs of up to 1 MiB.
        removed = 0
        batches = [list(slugs[i : i + REMOVE_DOCS_PER_CALL]) for i in range(0, len(slugs), REMOVE_DOCS_PER_CALL)]
        for batch in batches or [[]]:
            removed += int(
                self._fenced(
                    "worker/steps:removeDocs", jobId=job_id, token=token, slugs=batch, now=now_ms
                )
            )
        return removed

    def get_docs(self, job_id: str) -> list[DocRecord]:
        docs: list[DocRecord] = []
        cursor: str | None = None
        while True:
            page = self._query(
                "worker/steps:getDocs",
                jobId=job_id,
                paginationOpts={"numItems": DOCS_PAGE, "cursor": cursor},
            )
            docs.extend(record(DocRecord, d) for d in page["page"])
            if page["isDone"]:
                break
            cursor = page["continueCursor"]
        docs.sort(key=lambda d: (d.kind, d.chapter_index, d.slug))
        return docs
