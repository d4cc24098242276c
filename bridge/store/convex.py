"""The Convex job store: ``JobStore`` over a Convex deployment's HTTP API.

Each method is one call to a function in ``convex/functions/worker/`` (one serializable
transaction there). Calls carry the worker secret that the functions check against the
deployment's FONDATION_WORKER_SECRET; no admin or deploy key is needed.

Retries: a call whose answer was lost may still have run, so only calls that are safe to
repeat are retried (reads, writes fenced by a lease token, ``create_job`` with a dedupe
key, and a few writes that are idempotent by design). Any call is retried when the
request provably never reached the server (connection refused) or was rate limited.

The ``convex`` PyPI package is used for its value encoding only: its ``ConvexClient``
holds the GIL while it waits and has no timeout (see docs/CONVEX.md).
"""

from __future__ import annotations

import base64
import logging
import struct
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, NamedTuple, TypeVar

import httpx
from convex.values import convex_to_json

from bridge.store.base import JobStore
from bridge.store.progress import DEFAULT_LANGUAGE, Language
from bridge.store.records import (
    STEP_NAMES,
    Claim,
    DocRecord,
    DocSpec,
    JobLogRecord,
    JobRecord,
    JobSpec,
    LeaseState,
    LogLevel,
    RepositoryRecord,
    RepositorySpec,
    StepRecord,
    StepStart,
    web_result,
)
from fondation.errors import (
    CancelRequested,
    FondationError,
    JobNotFound,
    LeaseLost,
    MalformedJob,
    PermanentError,
    StoreAuthError,
    StoreUnavailable,
)

log = logging.getLogger(__name__)

Kind = Literal["query", "mutation"]
_R = TypeVar("_R", RepositoryRecord, StepRecord, JobLogRecord, DocRecord)

# Server-side bounds (convex/functions/): one call returns at most this many.
_LOG_PAGE = 1000
_DOCS_PAGE = 25
# upsertDocs takes at most 200 docs per call; stay well under Convex's per-call and
# per-transaction size limits as well.
_DOCS_PER_CALL = 100
_DOCS_BYTES_PER_CALL = 4 * 1024 * 1024
# A Convex document holds at most 1 MiB: an artifact larger than this goes in pieces
# of at most this many bytes (steps:putArtifactPart), at most _MAX_ARTIFACT_PARTS of
# them (steps.ts's MAX_ARTIFACT_PARTS).
_ARTIFACT_PART_BYTES = 900_000
_MAX_ARTIFACT_PARTS = 64
_MAX_RETRY_AFTER_S = 2.0


class ReadyProbe(NamedTuple):
    ready: int
    capped: bool
    newest_job_id: str | None


class ConvexFunctionError(FondationError):
    """A Convex function failed in a way this store has no type for (a bug on either
    side, or a deployment without these functions). Neither transient nor the job's
    fault: an operator must look."""


class ConvexStore(JobStore):
    """``JobStore`` on a Convex deployment, spoken to over HTTP with explicit timeouts.

    The deployment's clock times leases: the ``now_ms`` arguments are not sent unless
    ``send_clock`` is set, for a test deployment that honours them.
    """

    per_user_tokens = True

    def __init__(
        self,
        url: str,
        secret: str,
        timeout_s: float = 10.0,
        *,
        retries: int = 3,
        retry_backoff_s: float = 0.1,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        progress_language: Language = DEFAULT_LANGUAGE,
        send_clock: bool = False,
    ) -> None:
        if not secret:
            raise StoreAuthError("the Convex store needs the worker secret (CONVEX_WORKER_SECRET)")
        self.url = url.rstrip("/")
        self._secret = secret
        self._retries = max(0, retries)
        self._retry_backoff_s = retry_backoff_s
        self._sleep = sleep
        self._language = progress_language
        # Leases are timed by the deployment's clock; a caller's ``now`` is only for a
        # test deployment (FONDATION_TEST_CLOCK=1), which honours it.
        self._send_clock = send_clock
        self._http = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(timeout_s),
            transport=transport,
            headers={"Convex-Client": "fondation-worker"},
        )

    def __repr__(self) -> str:
        return f"ConvexStore({self.url!r})"

    def close(self) -> None:
        self._http.close()

    # --- the wire -----------------------------------------------------------------

    def _call(self, kind: Kind, path: str, args: Mapping[str, Any], *, idempotent: bool) -> Any:
        """Run one function; retry per the module's rules; map failures to our types."""
        body = {"path": path, "format": "convex_encoded_json", "args": self._encode(path, args)}
        attempt = 0
        while True:
            try:
                response = self._http.post(f"/api/{kind}", json=body)
            except httpx.TransportError as exc:
                # A refused connection never carried the request: always safe to repeat.
                never_sent = isinstance(exc, httpx.ConnectError)
                if (idempotent or never_sent) and attempt < self._retries:
                    attempt = self._back_off(path, attempt, f"{type(exc).__name__}: {exc}")
                    continue
                raise StoreUnavailable(f"Convex {path}: {type(exc).__name__}: {exc}") from exc
            status = response.status_code
            if status == 429 or status >= 500:
                # 429 is refused before running; a 5xx may come after a commit.
                if (idempotent or status == 429) and attempt < self._retries:
                    attempt = self._back_off(path, attempt, f"HTTP {status}", response)
                    continue
                raise StoreUnavailable(
                    f"Convex {path}: HTTP {status}: {_brief(response, self._secret)}"
                )
            if status in (401, 403):
                raise StoreAuthError(
                    f"Convex refused {path}: HTTP {status}: {_brief(response, self._secret)}"
                )
            if status >= 400:
                raise ConvexFunctionError(
                    f"Convex {path}: HTTP {status}: {_brief(response, self._secret)}"
                )
            return _answer(path, response, self._secret)

    def _back_off(
        self, path: str, attempt: int, why: str, response: httpx.Response | None = None
    ) -> int:
        delay = min(self._retry_backoff_s * (2**attempt), 2.0)
        if response is not None and response.headers.get("retry-after"):
            try:
                delay = min(float(response.headers["retry-after"]), _MAX_RETRY_AFTER_S)
            except ValueError:
                pass
        log.warning("convex %s failed (%s); retry %d in %.2f s", path, why, attempt + 1, delay)
        self._sleep(delay)
        return attempt + 1

    def _encode(self, path: str, args: Mapping[str, Any]) -> Any:
        # Convex's optional arguments take a missing field, not null.
        present = {k: v for k, v in args.items() if v is not None}
        if not self._send_clock:
            present.pop("now", None)
        present["secret"] = self._secret
        present["language"] = self._language
        try:
            return convex_to_json(present)
        except (ValueError, TypeError) as exc:
            # For example an int beyond 2^53, which a Convex number cannot hold.
            raise MalformedJob(f"cannot send the arguments of {path} to Convex: {exc}") from exc

    def _query(self, path: str, **args: Any) -> Any:
        return self._call("query", path, args, idempotent=True)

    def _fenced(self, path: str, **args: Any) -> Any:
        """A write fenced by a lease token: a repeat is refused or changes nothing."""
        return self._call("mutation", path, args, idempotent=True)

    # --- clients ------------------------------------------------------------------

    def upsert_repository(self, spec: RepositorySpec, now_ms: int) -> RepositoryRecord:
        doc = self._call(
            "mutation",
            "worker/jobs:upsertRepository",
            {**spec.to_wire(), "now": now_ms},
            idempotent=True,
        )
        return _record(RepositoryRecord, doc)

    def get_repository(self, repository_id: str) -> RepositoryRecord:
        return _record(
            RepositoryRecord, self._query("worker/jobs:getRepository", repositoryId=repository_id)
        )

    def create_job(self, spec: JobSpec, now_ms: int) -> tuple[JobRecord, bool]:
        value = self._call(
            "mutation",
            "worker/jobs:createJob",
            {**spec.to_wire(), "now": now_ms},
            idempotent=spec.dedupe_key is not None,
        )
        return _job(value["job"]), bool(value["created"])

    def get_job(self, job_id: str) -> JobRecord:
        return _job(self._query("worker/jobs:getJob", jobId=job_id))

    def list_jobs(self, status: str | None = None, limit: int = 50) -> list[JobRecord]:
        return [_job(d) for d in self._query("worker/jobs:listJobs", status=status, limit=limit)]

    def request_cancel(self, job_id: str, now_ms: int) -> JobRecord:
        doc = self._call(
            "mutation",
            "worker/jobs:requestCancel",
            {"jobId": job_id, "now": now_ms},
            idempotent=True,
        )
        return _job(doc)

    def retry_job(self, job_id: str, now_ms: int) -> JobRecord:
        # Not retried: a repeat after success finds a pending job and is refused.
        doc = self._call(
            "mutation", "worker/jobs:retryJob", {"jobId": job_id, "now": now_ms}, idempotent=False
        )
        return _job(doc)

    # --- the bridge ---------------------------------------------------------------

    def claim(self, owner: str, limit: int, lease_ms: int, now_ms: int) -> list[Claim]:
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
        return [Claim(job=_job(c["job"]), lease_token=c["leaseToken"]) for c in claims]

    def renew(self, job_id: str, token: str, lease_ms: int, now_ms: int) -> LeaseState:
        value = self._fenced(
            "worker/queue:renew", jobId=job_id, token=token, leaseMs=lease_ms, now=now_ms
        )
        return LeaseState.model_validate(value)

    def held_jobs(self, owner: str, limit: int) -> list[JobRecord]:
        return [_job(d) for d in self._query("worker/queue:heldJobs", owner=owner, limit=limit)]

    def reclaim_expired(self, now_ms: int, limit: int) -> list[str]:
        # Safe to repeat: a second pass only reclaims leases that expired meanwhile.
        ids = self._call(
            "mutation",
            "worker/queue:reclaimExpired",
            {"limit": limit, "now": now_ms},
            idempotent=True,
        )
        return [str(i) for i in ids]

    def release(self, job_id: str, token: str, now_ms: int, reason: str) -> None:
        self._fenced("worker/queue:release", jobId=job_id, token=token, reason=reason, now=now_ms)

    def mark_canceled(self, job_id: str, token: str, now_ms: int) -> JobRecord:
        return _job(
            self._fenced("worker/queue:markCanceled", jobId=job_id, token=token, now=now_ms)
        )

    # --- the workers --------------------------------------------------------------

    def start_step(self, job_id: str, token: str, step: int, worker: str, now_ms: int) -> StepStart:
        if not 0 <= step < len(STEP_NAMES):
            raise ValueError(f"no step {step}")
        # beginStep, not startStep: the step's record together with what the step needs,
        # in one request (startStep stays for workers of the previous release).
        doc = self._fenced(
            "worker/steps:beginStep",
            jobId=job_id,
            token=token,
            step=step,
            worker=worker,
            now=now_ms,
        )
        if not isinstance(doc, Mapping) or not {"step", "job", "steps"} <= doc.keys():
            raise MalformedJob(f"Convex's steps:beginStep answered {str(doc)[:200]!r}")
        repo = doc.get("repository")
        return StepStart(
            step=self._step(doc["step"]),
            job=_job(doc["job"]),
            repository=None if repo is None else _record(RepositoryRecord, repo),
            steps=[self._step(d) for d in doc["steps"]],
        )

    def finish_step(
        self,
        job_id: str,
        token: str,
        step: int,
        artifact: str,
        now_ms: int,
        usage: str | None = None,
    ) -> None:
        if not 0 <= step < len(STEP_NAMES):
            raise ValueError(f"no step {step}")
        extra: dict[str, Any] = {} if usage is None else {"usage": usage}
        parts = _artifact_parts(artifact)
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

    def _step(self, doc: Mapping[str, Any]) -> StepRecord:
        """A step record, with an artifact stored in pieces joined back together."""
        count = doc.get("artifactParts")
        if not count:
            return _record(StepRecord, doc)
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
        return _record(StepRecord, {**doc, "artifact": "".join(pieces)})

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
            want = min(limit - len(lines), _LOG_PAGE)
            page = self._query("worker/steps:getLogs", jobId=job_id, afterSeq=after_seq, limit=want)
            lines.extend(_record(JobLogRecord, d) for d in page)
            if len(page) < want:
                break
            after_seq = lines[-1].seq
        return lines

    def upsert_docs(self, job_id: str, token: str, docs: Sequence[DocSpec], now_ms: int) -> int:
        # Idempotent per doc, so splitting into several transactions is safe.
        written = 0
        for chunk in _doc_chunks(docs):
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

    def get_docs(self, job_id: str) -> list[DocRecord]:
        docs: list[DocRecord] = []
        cursor: str | None = None
        while True:
            page = self._query(
                "worker/steps:getDocs",
                jobId=job_id,
                paginationOpts={"numItems": _DOCS_PAGE, "cursor": cursor},
            )
            docs.extend(_record(DocRecord, d) for d in page["page"])
            if page["isDone"]:
                break
            cursor = page["continueCursor"]
        docs.sort(key=lambda d: (d.kind, d.chapter_index, d.slug))
        return docs

    def complete(
        self, job_id: str, token: str, result: dict[str, Any], docs_count: int, now_ms: int
    ) -> JobRecord:
        # Optional fields of the stored result take a missing key, not null.
        wire_result = web_result(result)
        doc = self._fenced(
            "worker/queue:complete",
            jobId=job_id,
            token=token,
            result=wire_result,
            docsCount=docs_count,
            now=now_ms,
        )
        return _job(doc)

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
        return _job(doc)

    def owner_github_token(self, job_id: str, token: str) -> str | None:
        value = self._query("worker/credentials:ownerGitHubToken", jobId=job_id, leaseToken=token)
        return None if value is None else str(value)

    # --- operations ---------------------------------------------------------------

    def list_stuck(self, now_ms: int, idle_ms: int, limit: int) -> list[JobRecord]:
        rows = self._query("worker/ops:listStuck", now=now_ms, idleMs=idle_ms, limit=limit)
        return [_job(d) for d in rows]

    def requeue(self, job_id: str, now_ms: int, reason: str) -> JobRecord:
        # Safe to repeat: a requeued job is pending, which a second requeue leaves alone.
        doc = self._call(
            "mutation",
            "worker/ops:requeue",
            {"jobId": job_id, "reason": reason, "now": now_ms},
            idempotent=True,
        )
        return _job(doc)

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
        rows = self._query("worker/ops:metrics")
        return {r["status"]: (int(r["count"]), bool(r["capped"])) for r in rows}

    def ready_probe(self, now_ms: int) -> ReadyProbe:
        """The cheap probe of ``convex_watch``: ready jobs (capped at 100) and the id of
        the newest job, which changes whenever a job is created."""
        value = self._query("worker/queue:readyCount", now=now_ms)
        return ReadyProbe(
            ready=int(value["count"]),
            capped=bool(value["capped"]),
            newest_job_id=value["newestJobId"],
        )

    def oldest_pending_created_at(self, now_ms: int) -> int | None:
        value = self._query("worker/ops:oldestPending", now=now_ms)
        return None if value is None else int(value)


# --- decoding -----------------------------------------------------------------------


def decode_value(value: Any) -> Any:
    """Convex's JSON encoding back to Python: ``$integer`` (Int64) to int, ``$bytes`` to
    bytes, ``$float`` (NaN, infinities, -0) to float. Plain numbers are left as JSON
    gave them, so integral numbers stay ints."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            if key == "$integer":
                return int(struct.unpack("<q", base64.b64decode(inner))[0])
            if key == "$bytes":
                return base64.b64decode(inner)
            if key == "$float":
                return float(struct.unpack("<d", base64.b64decode(inner))[0])
        return {k: decode_value(v) for k, v in value.items()}
    return value


def _answer(path: str, response: httpx.Response, secret: str) -> Any:
    try:
        payload = response.json()
        status = payload["status"]
    except (ValueError, KeyError, TypeError) as exc:
        # A proxy's page or a truncated body: the deployment did not answer properly.
        raise StoreUnavailable(
            f"Convex {path}: unreadable answer: {_brief(response, secret)}"
        ) from exc
    if status == "success":
        return decode_value(payload.get("value"))
    if status == "error":
        _raise_function_error(path, payload, secret)
    raise StoreUnavailable(f"Convex {path}: unexpected status {status!r}")


def _raise_function_error(path: str, payload: Mapping[str, Any], secret: str) -> None:
    message = str(payload.get("errorMessage", ""))
    data = decode_value(payload.get("errorData"))
    code = data.get("code") if isinstance(data, dict) else None
    if isinstance(data, dict):
        message = str(data.get("message", message))
    # Convex's validation errors quote the arguments, which carry the secret.
    message = _redact(message, secret)
    if code == "unauthorized":
        raise StoreAuthError(f"Convex refused {path}: {message}")
    if code == "cancel_requested" and isinstance(data, dict):
        raise CancelRequested(str(data.get("subject", "")))
    if code == "lease_lost" and isinstance(data, dict):
        raise LeaseLost(str(data.get("subject", "")), str(data.get("reason", message)))
    if code == "not_found" and isinstance(data, dict):
        raise JobNotFound(str(data.get("subject", "")))
    if code == "invalid":
        raise MalformedJob(f"Convex {path}: {message}")
    if "Validator error" in message or "ArgumentValidationError" in message:
        raise MalformedJob(f"Convex {path} refused its arguments: {message}")
    raise ConvexFunctionError(f"Convex {path} failed: {message}")


def _record(cls: type[_R], doc: Mapping[str, Any]) -> _R:
    data = dict(doc)
    if "_id" in data:
        data["id"] = data.pop("_id")
    try:
        return cls.model_validate(data)
    except ValueError as exc:
        raise MalformedJob(f"Convex returned a malformed {cls.__name__}: {exc}") from exc


def _job(doc: Mapping[str, Any]) -> JobRecord:
    data = dict(doc)
    data["id"] = data.pop("_id", data.get("id"))
    try:
        return JobRecord.model_validate(data)
    except ValueError as exc:
        raise MalformedJob(f"job {data.get('id')} is malformed: {exc}") from exc


def _artifact_parts(artifact: str) -> list[str]:
    """``artifact`` in pieces of at most _ARTIFACT_PART_BYTES of UTF-8, cut between
    characters; one piece when it fits in a document."""
    data = artifact.encode()
    if len(data) <= _ARTIFACT_PART_BYTES:
        return [artifact]
    parts: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + _ARTIFACT_PART_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1  # a continuation byte: the cut would split a character
        parts.append(data[start:end].decode())
        start = end
    if len(parts) > _MAX_ARTIFACT_PARTS:
        limit_mb = _ARTIFACT_PART_BYTES * _MAX_ARTIFACT_PARTS / 1e6
        raise PermanentError(
            f"the step's artifact is {len(data) / 1e6:.1f} MB; Convex holds at most"
            f" {limit_mb:.1f} MB per artifact"
        )
    return parts


def _doc_chunks(docs: Sequence[DocSpec]) -> Iterator[list[DocSpec]]:
    chunk: list[DocSpec] = []
    size = 0
    for doc in docs:
        doc_size = len(doc.content.encode()) + len(doc.title.encode()) + len(doc.slug) + 64
        if chunk and (len(chunk) >= _DOCS_PER_CALL or size + doc_size > _DOCS_BYTES_PER_CALL):
            yield chunk
            chunk, size = [], 0
        chunk.append(doc)
        size += doc_size
    if chunk:
        yield chunk


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "[secret]") if secret else text


def _brief(response: httpx.Response, secret: str) -> str:
    text = _redact(response.text, secret)
    return text if len(text) <= 300 else text[:300] + "..."
