"""Twenty Claude jobs on three workers through the real CLI, while the scripted API allows
N requests a minute, then refuses everything for 60 s with a reset time, then allows N
a minute again.

The API keeps its own books: every request's arrival and how long it was served, the
requests it refused over the minute's quota and during the blackout. The jobs run on a
bridge and three Celery workers (two processes each) on SQLite and an embedded Redis,
with the fleet's gate set to the API's quota (CLAUDE_CALLS_PER_MINUTE = N: each call is
one request here, as the model answers at its first turn) and CLAUDE_MAX_CALLS.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import redis

from bench.stack import Stack
from cli.submit import repository_spec
from fondation import wake
from fondation.clock import now_ms
from store.records import JobSpec
from testbed.claude_api import limits
from testbed.claude_api.cli import CLAUDE_BIN, FAKE_API_KEY, FAKE_OAUTH_TOKEN
from testbed.claude_api.scenarios import recorded
from testbed.claude_api.server import Failure, Reply, Request, Scenario, ScriptedApi, answer
from testbed.claude_double import SCENARIOS

JOBS = 20
WORKERS = 3
MAX_CALLS = 4
# Below what the CLI's start-up lets this 2-core machine run at once (about 50 calls a
# minute at CLAUDE_MAX_CALLS=4 when it is shared), so that the quota is what binds.
PER_MINUTE = 40
BLACKOUT_AFTER_S = 70.0  # from the first request
BLACKOUT_S = 60.0
# What the model "thinks" per call, cycled: short calls that vary, scaled down.
DELAYS_S = (0.3, 0.9, 0.5, 1.4, 0.4, 0.7)


@dataclass
class LimitedApi:
    """The scripted API's quota and blackout, and what it saw."""

    per_minute: int
    answers: Scenario  # the recorded answers
    arrivals: list[tuple[float, float]] = field(default_factory=list)  # (at, served_s)
    refused_over_quota: int = 0
    refused_in_blackout: int = 0
    first_s: float | None = None
    _window: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _served: int = 0

    def blackout(self) -> tuple[float, float]:
        assert self.first_s is not None
        start = self.first_s + BLACKOUT_AFTER_S
        return start, start + BLACKOUT_S

    def __call__(self, req: Request) -> Reply | Failure:
        now = time.monotonic()
        with self._lock:
            if self.first_s is None:
                self.first_s = now
            start, end = self.blackout()
            if start <= now < end:
                self.refused_in_blackout += 1
                self.arrivals.append((now, 0.0))
                reset = int(time.time() + (end - now)) + 1
                return limits.rate_limited(math.ceil(end - now), unified_reset_epoch_s=reset)
            while self._window and self._window[0] <= now - 60:
                self._window.popleft()
            if len(self._window) >= self.per_minute:
                self.refused_over_quota += 1
                self.arrivals.append((now, 0.0))
                return limits.rate_limited(math.ceil(self._window[0] + 60 - now))
            self._window.append(now)
            delay = DELAYS_S[self._served % len(DELAYS_S)]
            self._served += 1
            self.arrivals.append((now, delay))
        reply = self.answers(req)
        if isinstance(reply, Reply):
            return Reply(reply.text, reply.tools, reply.input_tokens, reply.output_tokens, delay)
        return reply

    def most_at_once(self) -> int:
        """The most requests the API served at the same time."""
        events = sorted([(a, 1) for a, s in self.arrivals if s] +
                        [(a + s, -1) for a, s in self.arrivals if s])  # fmt: skip
        now = peak = 0
        for _, step in events:
            now += step
            peak = max(peak, now)
        return peak

    def served_between(self, start_s: float, end_s: float) -> int:
        return sum(1 for a, s in self.arrivals if s and start_s <= a < end_s)


@dataclass
class LimitsResult:
    completed: int
    attempts: int
    wall_s: float
    most_at_once: int
    goodput: float
    served: int
    refused_over_quota: int
    refused_in_blackout: int
    saturated_s: float
    given_back: int  # steps that gave their job back to wait for the fleet's pause


def one_chapter() -> Scenario:
    """The shop's recorded answers, cut to one abstraction: six calls a job (one a step),
    each answered at its first turn, so that one call is one request."""
    success = recorded("success")
    doc = json.loads((SCENARIOS / "success.json").read_text(encoding="utf-8"))
    first = {r["schema"]: r["structured_output"] for r in reversed(doc["responses"])}
    models = [a for a in first["AbstractionsArtifact"]["abstractions"] if a["id"] == "models"]
    fixed = {
        "AbstractionsArtifact": dict(first["AbstractionsArtifact"], abstractions=models),
        "RelationshipsArtifact": {"summary": "One part, on its own.", "relationships": []},
        "OrderArtifact": {"order": ["models"], "rationale": "The only part."},
    }

    def scenario(req: Request) -> Reply | Failure:
        if req.schema_title in fixed:
            return answer(fixed[req.schema_title])
        return success(req)

    return scenario


def run(credential: str = "api_key") -> LimitsResult:
    api_state = LimitedApi(PER_MINUTE, one_chapter())
    token = {"ANTHROPIC_API_KEY": FAKE_API_KEY} if credential == "api_key" else {
        "CLAUDE_CODE_OAUTH_TOKEN": FAKE_OAUTH_TOKEN}  # fmt: skip
    with (
        ScriptedApi(api_state) as api,
        Stack(
            "claude-limits",
            ANALYSIS_ENGINE="claude",
            CLAUDE_BIN=str(CLAUDE_BIN),
            ANTHROPIC_BASE_URL=api.url,
            CLAUDE_TIMEOUT_S="180",
            CLAUDE_MAX_CALLS=str(MAX_CALLS),
            CLAUDE_CALLS_PER_MINUTE=str(PER_MINUTE),
            CLAUDE_SANDBOX="off",
            MAX_CONCURRENT_JOBS="8",
            QUEUE_HIGH_WATER="8",
            POLL_INTERVAL="1000",
            HEARTBEAT_INTERVAL="5000",
            LEASE_TIME="120000",
            **token,
        ) as stack,
    ):
        for i in range(WORKERS):
            stack.worker(concurrency=2, name=f"w{i}")
        stack.bridge()
        stack.wait_ready(workers=WORKERS, timeout_s=60)
        started, started_ms = time.monotonic(), now_ms()
        ids = _submit_all(stack)
        stack.wait_done(ids, timeout_s=900)
        wall_s = time.monotonic() - started
        jobs = [stack.store.get_job(i) for i in ids]
        given_back = sum(
            1 for i in ids for line in stack.store.get_logs(i) if "was given back" in line.msg
        )
        done_at = sorted(j.completed_at or 0 for j in jobs)
    # Saturated: while at least MAX_CALLS jobs were still running, the quota is the limit.
    assert api_state.first_s is not None
    saturated_end = started + (done_at[JOBS - MAX_CALLS] - started_ms) / 1000
    start, end = api_state.blackout()
    # Whole minutes of each phase while the quota binds (at least MAX_CALLS jobs left):
    # the API's sliding window lets at most N through in any of them, so the figure is
    # at most 1, and neither the first window's burst nor a phase's tail counts.
    before_min = int(max(0.0, min(start, saturated_end) - api_state.first_s) // 60)
    after_min = int(max(0.0, saturated_end - end) // 60)
    served = api_state.served_between(api_state.first_s, api_state.first_s + 60 * before_min)
    served += api_state.served_between(end, end + 60 * after_min)
    allowed_s = 60.0 * (before_min + after_min)
    goodput = served / (PER_MINUTE * (before_min + after_min)) if allowed_s else 0.0
    return LimitsResult(
        completed=sum(1 for j in jobs if j.status == "completed"),
        attempts=sum(j.attempts for j in jobs),
        wall_s=wall_s,
        most_at_once=api_state.most_at_once(),
        goodput=goodput,
        served=sum(1 for _, s in api_state.arrivals if s),
        refused_over_quota=api_state.refused_over_quota,
        refused_in_blackout=api_state.refused_in_blackout,
        saturated_s=allowed_s,
        given_back=given_back,
    )


def _submit_all(stack: Stack) -> list[str]:
    """The jobs, as the web app inserts them: four users, five jobs each, interleaved."""
    spec = repository_spec(str(stack.repo), stack.settings)
    repository = stack.store.upsert_repository(spec, now_ms())
    ids = []
    for i in range(JOBS):
        job, _ = stack.store.create_job(
            # fresh: every job asks Claude, as twenty different repositories would; the
            # same commit's earlier answers would otherwise be reused at no call.
            JobSpec(user_id=f"user-{i % 4}", repository_id=repository.id, fresh=True),
            now_ms(),
        )
        ids.append(job.id)
    client = redis.Redis.from_url(stack.redis.url)
    wake.announce(client)
    client.close()
    return ids
