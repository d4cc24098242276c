"""The Convex store's wire: its HTTP client, the call with its retries, the encoding of
arguments and the decoding of answers and records, shared by each role's calls."""

from __future__ import annotations

import base64
import logging
import struct
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, NamedTuple, TypeVar

import httpx
from convex.values import convex_to_json

from store.progress import DEFAULT_LANGUAGE, Language
from store.records import (
    DocRecord,
    DocSpec,
    JobLogRecord,
    JobRecord,
    RepositoryRecord,
    StepRecord,
    StepState,
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
_R = TypeVar("_R", RepositoryRecord, StepRecord, StepState, JobLogRecord, DocRecord)

# Server-side bounds (convex/functions/): one call returns at most this many.
LOG_PAGE = 1000
DOCS_PAGE = 25
# upsertDocs takes at most 200 docs per call; stay well under Convex's per-call and
# per-transaction size limits as well.
_DOCS_PER_CALL = 100
# removeDocs takes at most 8 slugs per call: each doc deleted is read (up to 1 MiB).
REMOVE_DOCS_PER_CALL = 8
_DOCS_BYTES_PER_CALL = 4 * 1024 * 1024
# A Convex document holds at most 1 MiB: an artifact larger than this goes in pieces
# of at most this many bytes (steps:putArtifactPart), at most _MAX_ARTIFACT_PARTS of
# them (steps.ts's MAX_ARTIFACT_PARTS).
_ARTIFACT_PART_BYTES = 900_000
_MAX_ARTIFACT_PARTS = 64
_MAX_RETRY_AFTER_S = 2.0


class ConvexFunctionError(FondationError):
    """A Convex function failed in a way this store has no type for (a bug on either
    side, or a deployment without these functions). Neither transient nor the job's
    fault: an operator must look."""


class ConvexCore:
    """A Convex deployment, spoken to over HTTP with explicit timeouts.

    The deployment's clock times leases: the ``now_ms`` arguments are not sent unless
    ``send_clock`` is set, for a test deployment that honours them.
    """

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


def record(cls: type[_R], doc: Mapping[str, Any]) -> _R:
    data = dict(doc)
    if "_id" in data:
        data["id"] = data.pop("_id")
    try:
        return cls.model_validate(data)
    except ValueError as exc:
        raise MalformedJob(f"Convex returned a malformed {cls.__name__}: {exc}") from exc


def job(doc: Mapping[str, Any]) -> JobRecord:
    data = dict(doc)
    data["id"] = data.pop("_id", data.get("id"))
    try:
        return JobRecord.model_validate(data)
    except ValueError as exc:
        raise MalformedJob(f"job {data.get('id')} is malformed: {exc}") from exc


def artifact_parts(artifact: str) -> list[str]:
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


def doc_chunks(docs: Sequence[DocSpec]) -> Iterator[list[DocSpec]]:
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
