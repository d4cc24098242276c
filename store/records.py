"""Records of the job store, with the field names and statuses of Fondation's Convex tables.

The web app reads these tables, so names are kept exactly (camelCase on the wire), and so
are its types (``githubRepoId`` a string, ``result.data`` a string, a fractional
``runAt``). Fields this project adds (``leaseToken``, ``ref``, ``cloneUrl``, the
``jobSteps`` table) are optional, so records written by the web app stay valid. Times are
epoch milliseconds, as in Convex.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from fondation.steps import ANALYSIS_STEPS

JobStatus = Literal[
    "pending",
    "claimed",
    "cloning",
    "analyzing",
    "gathering",
    "running",
    "completed",
    "failed",
    "canceled",
    "dead",
]
# The TypeScript functions read these rules from convex/functions/worker/lib/shared.json;
# tests/unit/test_shared_rules.py pins this copy equal to it (the worker image holds no
# convex/ folder, so the package does not read the file).
FINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "canceled", "dead"})
# A job in one of these is held under a lease by a bridge.
ACTIVE_STATUSES: frozenset[str] = frozenset(
    {"claimed", "cloning", "analyzing", "gathering", "running"}
)
# A job in one of these may be put back to pending by retry_job.
RETRYABLE_STATUSES: frozenset[str] = frozenset({"failed", "dead", "canceled"})
DocKind = Literal["chapter", "tutorial", "toc", "yaml"]
LogLevel = Literal["info", "error"]

DEFAULT_MAX_ATTEMPTS = 5


class Record(BaseModel):
    """Base of every record: camelCase aliases, snake_case attributes."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class RepositorySpec(Record):
    user_id: str
    # The web app writes GitHub's numeric id as a string (``repo.id.toString()``).
    github_repo_id: str = ""
    name: str
    full_name: str
    description: str | None = None
    default_branch: str = "main"
    clone_url: str | None = None

    @field_validator("github_repo_id", mode="before")
    @classmethod
    def _id_text(cls, value: object) -> object:
        # Files of an earlier release stored the id as a number (12345.0).
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        if isinstance(value, int):
            return str(value)
        return value


class RepositoryRecord(RepositorySpec):
    id: str


class JobSpec(Record):
    """What a client gives to create a job."""

    user_id: str
    repository_id: str
    prompt: str = ""
    callback_token: str = Field(default="", repr=False)
    ref: str | None = None
    # Redo everything: reuse no earlier job's work (it is still kept for later jobs).
    fresh: bool | None = None
    dedupe_key: str | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    run_at: int | None = None


class JobRecord(Record):
    id: str
    user_id: str
    repository_id: str
    status: JobStatus
    prompt: str = ""
    # The web app's callback secret: never logged, never shown (repr=False).
    callback_token: str = Field(default="", repr=False)
    run_at: int | None = None
    attempts: int = 0
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    locked_by: str | None = None
    lease_until: int | None = None
    lease_token: str | None = Field(default=None, repr=False)
    dedupe_key: str | None = None
    last_error: str | None = None
    created_at: int
    updated_at: int | None = None
    completed_at: int | None = None
    progress: str | None = None
    current_step: int | None = None
    total_steps: int | None = ANALYSIS_STEPS
    result: Any = None
    error: str | None = None
    docs_count: int | None = None
    cancel_requested: bool | None = None
    run_id: str | None = None
    ref: str | None = None
    fresh: bool | None = None
    # The web app's field: how the course differs from the repository's previous one
    # ({inserted, updated, skipped, rejected, deleted}, analysis/course/regeneration.py).
    regeneration_stats: dict[str, int] | None = None

    @field_validator("run_at", "lease_until", mode="before")
    @classmethod
    def _whole_ms(cls, value: object) -> object:
        # The Node worker's retries wrote runAt = now + delay + random() * 5000, a
        # fraction of a millisecond; the store decides by the stored value, and the
        # record rounds up so that it never says a job is ready before it is.
        if isinstance(value, float) and not value.is_integer():
            return math.ceil(value)
        return value

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class Claim(Record):
    """A job leased to a holder; ``lease_token`` fences every later write. ``first_step``
    is the first step without a completed record, where the job's chain starts (the
    claim also wrote the job log's "Claimed by" line)."""

    job: JobRecord
    lease_token: str = Field(repr=False)
    first_step: int = 0


class LeaseState(Record):
    """What a renewal tells the holder."""

    lease_until: int
    cancel_requested: bool
    status: JobStatus


ReuseKind = Literal["step", "answer", "parse"]


class ReuseEntry(Record):
    """A record to keep for the later jobs of a repository, as a caller gives it: under
    (kind, key), ``variant`` telling apart the records of one key, ``value`` JSON of at
    most ``REUSE_VALUE_MAX_CHARS``."""

    kind: ReuseKind
    key: str
    variant: str
    value: str


class ReuseRecord(ReuseEntry):
    """Work of an earlier job of the same repository that a later job may take instead
    of doing it again: a step's artifact for the same tree (``step``), a Claude answer
    with the inputs it read (``answer``), a file's parse result (``parse``). Looked up by
    (repository, kind, key); ``variant`` tells apart the records of one key (an answer
    given at two commits whose inputs differ). The repository is never the caller's to
    name: the store takes it from the job whose lease the caller holds."""

    job_id: str  # the job that did the work
    created_at: int


class StepState(Record):
    """Where one step of a job stands, without its artifact: what dispatch, metrics and
    the dashboard read (an artifact can be megabytes, stored in parts on Convex)."""

    job_id: str
    step: int
    name: str
    status: Literal["started", "completed"]
    runs: int
    started_at: int
    completed_at: int | None = None
    worker: str | None = None
    usage: str | None = None  # JSON: what the engine spent on the step (cost, turns)


class JobProgress(Record):
    """A job with its step states, read in one call."""

    job: JobRecord
    steps: list[StepState]


class StepRecord(StepState):
    """A step's state with the artifact it produced, which the later steps read."""

    artifact: str | None = None


class StepStart(Record):
    """What a worker needs to run a step, read in the transaction that starts it: one
    round trip per step instead of four (on Convex each is an HTTPS request)."""

    step: StepRecord  # this step's record; status "completed" means skip it
    job: JobRecord  # as the start left it
    repository: RepositoryRecord | None  # None when the job names no existing repository
    steps: list[StepRecord]  # every step record of the job by step number, this one included
    # The records of the reuse key the caller named (find_reuse's answer, newest first);
    # empty when it named none.
    reuse: list[ReuseRecord] = []
    # For the save step only, whether the job has docs stored (chapters published as
    # their reviews ended, or an earlier run's save): without any, it has none to read
    # back. None for the other steps, and from a deployment that does not say.
    has_docs: bool | None = None

    def later_steps(self) -> list[int]:
        return [r.step for r in self.steps if r.step > self.step.step]


class DocSpec(Record):
    slug: str
    title: str
    chapter_index: int
    kind: DocKind
    content: str
    # What identifies the doc within its repository's course, the same in every run
    # (analysis/course/course.py source_key); the web app indexes it (by_source_key).
    source_key: str | None = None

    def same_as(self, other: DocSpec) -> bool:
        """Whether storing ``self`` over ``other`` (same slug) would change nothing."""
        fields = ("slug", "title", "chapter_index", "kind", "content", "source_key")
        return all(getattr(self, f) == getattr(other, f) for f in fields)


class DocRecord(DocSpec):
    job_id: str
    repository_id: str
    created_at: int
    updated_at: int | None = None
    run_id: str | None = None


class JobLogRecord(Record):
    job_id: str
    ts: int
    seq: int
    level: LogLevel
    msg: str


def web_result(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` as the web app's schema holds it: ``{success, message?, data?}`` with
    ``data`` a string. Data that is not text is kept as its JSON text, so a completion
    is never refused after the whole analysis has run."""
    shaped = {k: v for k, v in result.items() if v is not None}
    data = shaped.get("data")
    if data is not None and not isinstance(data, str):
        shaped["data"] = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return shaped


# A record's value stays well under a Convex document's 1 MiB, and a lookup of
# REUSE_VARIANTS_PER_KEY of them under a query's read limit. Larger work is not kept.
REUSE_VALUE_MAX_CHARS = 512 * 1024
# Records kept per (repository, kind, key): saving one more drops the oldest.
REUSE_VARIANTS_PER_KEY = 4


def check_reuse_value(value: str) -> None:
    """Refuse, before anything is written, a value larger than one record holds."""
    if len(value) > REUSE_VALUE_MAX_CHARS:
        raise ValueError(f"a reuse record holds at most {REUSE_VALUE_MAX_CHARS} characters")
