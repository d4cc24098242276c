"""How the real CLI ends a call the API refused, and what the engine reads from it: rate
limits with and without retry-after, a subscription's usage limit (the unified headers),
an overload, a rejected credential, a spend limit, no credit, an invalid request."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from analysis.claude.refusals import (
    ClaudeCredentialRejected,
    ClaudeInvalidRequest,
    ClaudeOverloaded,
    ClaudeRateLimited,
    ClaudeSpendLimit,
    ClaudeUsageLimit,
)
from testbed.claude_api import limits
from testbed.claude_api.cli import real_settings
from testbed.claude_api.server import Failure, Reply, Request, ScriptedApi, answer
from tests.integration.claude_cli.conftest import Jobs, call_once

pytestmark = pytest.mark.integration

CREDENTIALS = ["api_key", "oauth"]


def _ok(req: Request) -> Reply:
    return answer({"answer": "ok"})


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_a_429_with_a_long_retry_after_ends_the_call_at_once_as_a_rate_limit(
    jobs: Jobs, credential: str
) -> None:
    # The scenario: retry-after 600 with the unified headers, on an API key. On an
    # OAuth token the same headers are a usage limit (next test), so this one has none.
    reset = int(time.time()) + 600
    unified = reset if credential == "api_key" else None
    refusal = limits.rate_limited(600, unified_reset_epoch_s=unified)
    with ScriptedApi(lambda req: refusal) as api:
        started_ms = int(time.time() * 1000)
        out = call_once(real_settings(api.url, credential=credential), jobs.ctx())
    assert isinstance(out.error, ClaudeRateLimited), out.error
    assert len(api.messages()) == 1  # the CLI did not wait for 600 s, nor retry
    assert out.error.status == 429
    # It did not say how long: at least the minute the CLI would have waited itself.
    assert out.error.until_ms is not None
    assert 59_000 <= out.error.until_ms - started_ms <= 75_000


def test_a_subscriptions_usage_limit_is_read_with_its_reset(jobs: Jobs) -> None:
    reset = int(time.time()) + 3 * 3600
    with ScriptedApi(lambda req: limits.rate_limited(unified_reset_epoch_s=reset)) as api:
        out = call_once(real_settings(api.url, credential="oauth"), jobs.ctx())
    assert isinstance(out.error, ClaudeUsageLimit), out.error
    assert out.envelope is not None
    assert out.envelope.result is not None
    assert "hit your 5-hour limit" in out.envelope.result
    assert (out.envelope.model_extra or {}).get("api_error") == "usage_limit_reached"
    # The CLI prints the reset's minute, rounded down, in the zone of its TZ: the engine
    # waits to the end of that minute.
    expected = datetime.fromtimestamp(reset, UTC).replace(second=0) + timedelta(minutes=1)
    assert out.error.until_ms == int(expected.timestamp() * 1000)
    assert len(api.messages()) == 1


@pytest.mark.parametrize("credential", CREDENTIALS)
def test_a_short_retry_after_is_waited_out_by_the_cli_within_the_call(
    jobs: Jobs, credential: str
) -> None:
    with ScriptedApi(limits.failing_first(1, lambda: limits.rate_limited(2), _ok)) as api:
        out = call_once(real_settings(api.url, credential=credential), jobs.ctx())
    assert out.output == {"answer": "ok"}, out.error
    first, second = api.messages()[:2]
    assert second.at - first.at >= 1.9


def test_a_429_without_retry_after_is_retried_by_the_cli_itself(jobs: Jobs) -> None:
    with ScriptedApi(limits.failing_first(2, limits.rate_limited, _ok)) as api:
        out = call_once(real_settings(api.url), jobs.ctx())
    assert out.output == {"answer": "ok"}, out.error
    assert len(api.messages()) >= 3


def test_an_overloaded_api_is_an_overload_after_the_clis_retries(jobs: Jobs) -> None:
    with ScriptedApi(lambda req: limits.overloaded()) as api:
        out = call_once(real_settings(api.url), jobs.ctx())
    assert isinstance(out.error, ClaudeOverloaded), out.error
    assert len(api.messages()) == 3


def test_the_fallback_model_is_asked_when_the_api_is_overloaded(jobs: Jobs) -> None:
    def scenario(req: Request) -> Reply | Failure:
        if req.body.get("model") == "claude-fallback-test":
            return answer({"answer": "from the fallback"})
        return limits.overloaded()

    with ScriptedApi(scenario) as api:
        settings = real_settings(api.url, model="claude-main-test",
                                 fallback_model="claude-fallback-test")  # fmt: skip
        out = call_once(settings, jobs.ctx())
    models = [r.body.get("model") for r in api.messages()]
    assert "claude-main-test" in models
    assert out.output == {"answer": "from the fallback"}, (out.error, models)


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("failure", [limits.forbidden, limits.no_credit, limits.billing_error,
                                     limits.spend_limit, limits.invalid_request])  # fmt: skip
def test_refusals_that_need_an_operator_end_the_call_at_once(
    jobs: Jobs, credential: str, failure: object
) -> None:
    expected = {
        limits.forbidden: ClaudeCredentialRejected,
        limits.no_credit: ClaudeSpendLimit,
        limits.billing_error: ClaudeSpendLimit,
        limits.spend_limit: ClaudeSpendLimit,
        limits.invalid_request: ClaudeInvalidRequest,
    }[failure]  # type: ignore[index]
    with ScriptedApi(lambda req: failure()) as api:  # type: ignore[operator]
        started = time.monotonic()
        out = call_once(real_settings(api.url, credential=credential), jobs.ctx())
    assert isinstance(out.error, expected), out.error
    assert time.monotonic() - started < 15
    assert len(api.messages()) <= 3
