"""The engine's calls on the real CLI through the fleet's gate in a real Redis: a refusal
pauses the fleet, a short pause is waited out within the step, a long one gives the job
back (``WorkDeferred``) without another request, and the job's budget is enforced."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from analysis.claude.gate import FleetGate
from analysis.claude.guard import CallGuard, JobBudgetSpent
from analysis.claude.runner import ClaudeCall, ClaudeRunner
from analysis.claude.settings import ClaudeSettings
from analysis.engine import StepContext
from fondation.claude_fleet import NO_END, read_pause
from fondation.errors import WorkDeferred
from testbed.claude_api import limits
from testbed.claude_api.cli import real_settings
from testbed.claude_api.server import Reply, Request, ScriptedApi, answer
from tests.integration.claude_cli.conftest import SCHEMA, Jobs

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def _ok(req: Request) -> Reply:
    return answer({"answer": "ok"})


def _ctx(jobs: Jobs, client: redis.Redis, job_id: str = "job-a") -> StepContext:
    ctx = jobs.ctx(job_id)
    ctx.redis = client
    ctx.user_id = "user-1"
    notes: list[str] = []
    ctx.note = notes.append
    return ctx


def _ask(settings: ClaudeSettings, ctx: StepContext) -> dict[str, Any]:
    runner = ClaudeRunner(settings)
    runner.start()
    call = ClaudeCall("abstractions", "probe", "Probe the checkout.", SCHEMA)
    return CallGuard(settings).run(ctx, lambda counted: runner.run(call, ctx, counted))


def test_a_usage_limit_pauses_the_fleet_and_gives_the_job_back_until_the_reset(
    jobs: Jobs, client: redis.Redis
) -> None:
    reset = int(time.time()) + 3 * 3600
    with ScriptedApi(lambda req: limits.rate_limited(unified_reset_epoch_s=reset)) as api:
        settings = real_settings(api.url, credential="oauth")
        with pytest.raises(WorkDeferred) as first:
            _ask(settings, _ctx(jobs, client))
        # Another job, while the fleet is paused: given back without asking the API.
        with pytest.raises(WorkDeferred) as second:
            _ask(settings, _ctx(jobs, client, "job-b"))
    assert len(api.messages()) == 1
    for deferred in (first.value, second.value):
        assert deferred.reason == "usage_limit"
        assert deferred.until_known
        assert abs(deferred.until_ms - reset * 1000) < 60_000
    pause = read_pause(client)
    assert pause is not None
    assert pause.reason == "usage_limit"


def test_a_short_rate_limit_is_waited_out_within_the_step_and_lifted_by_the_next_answer(
    jobs: Jobs, client: redis.Redis
) -> None:
    # 429 with retry-after 600 for 2 s: the CLI gives up at once, the fleet waits 1 s at
    # a time (CLAUDE_RATE_LIMIT_WAIT_S), then a probe call gets through.
    refuse_until = time.monotonic() + 2
    scenario = limits.failing_until(refuse_until, lambda: limits.rate_limited(600), _ok)
    ctx = _ctx(jobs, client)
    with ScriptedApi(scenario) as api:
        settings = real_settings(api.url, rate_limit_wait_s=1, step_wait_s=30)
        assert _ask(settings, ctx) == {"answer": "ok"}
    assert len(api.messages()) >= 2
    assert read_pause(client) is None
    assert ctx.note is not None


def test_a_spend_limit_pauses_the_fleet_until_an_operator_acts(
    jobs: Jobs, client: redis.Redis
) -> None:
    with ScriptedApi(lambda req: limits.no_credit()) as api:
        settings = real_settings(api.url, probe_interval_s=120)
        started_ms = int(time.time() * 1000)
        with pytest.raises(WorkDeferred) as deferred:
            _ask(settings, _ctx(jobs, client))
    assert deferred.value.reason == "spend"
    assert not deferred.value.until_known  # only when to look again
    assert deferred.value.until_ms - started_ms >= 119_000
    pause = read_pause(client)
    assert pause is not None
    assert (pause.reason, pause.until_ms) == ("spend", NO_END)
    assert len(api.messages()) == 1


def test_a_rejected_credential_is_probed_again_after_the_probe_interval(
    jobs: Jobs, client: redis.Redis
) -> None:
    with ScriptedApi(lambda req: limits.forbidden()) as api:
        settings = real_settings(api.url, probe_interval_s=600)
        with pytest.raises(WorkDeferred) as deferred:
            _ask(settings, _ctx(jobs, client))
    assert deferred.value.reason == "credential"
    pause = read_pause(client)
    assert pause is not None
    assert pause.reason == "credential"
    assert pause.until_ms > 0


def test_a_job_that_reaches_its_budget_fails_for_good(jobs: Jobs, client: redis.Redis) -> None:
    ctx = _ctx(jobs, client, "job-budget")
    with ScriptedApi(_ok) as api:
        settings = real_settings(api.url, job_budget_usd=0.0001)
        with pytest.raises(JobBudgetSpent, match="CLAUDE_JOB_BUDGET_USD"):
            _ask(settings, ctx)
        with pytest.raises(JobBudgetSpent):
            _ask(settings, ctx)
    assert len(api.messages()) == 1  # the second call never started
    gate = FleetGate(client, max_calls=1, calls_per_minute=None, call_ttl_ms=1)
    assert gate.job_cost("job-budget") > 0.0001
