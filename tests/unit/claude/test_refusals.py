"""Each way the API refused a call, as the pinned CLI printed it (the result objects
below are trimmed from real runs, docs/CLAUDE.md), becomes its own exception."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from analysis.claude.refusals import (
    CallEnd,
    ClaudeCredentialRejected,
    ClaudeInvalidRequest,
    ClaudeOverloaded,
    ClaudeRateLimited,
    ClaudeSpendLimit,
    ClaudeUsageLimit,
    classify,
    reset_ms,
)
from analysis.claude.result import ResultEnvelope

NOW = datetime(2026, 12, 7, 16, 20, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def _refused(status: int, kind: str, text: str, **extra: Any) -> ResultEnvelope:
    return ResultEnvelope.model_validate(
        {"type": "result", "subtype": "success", "is_error": True, "result": text,
         "api_error_status": status, "api_error_type": kind, "terminal_reason": "api_error",
         **extra}
    )  # fmt: skip


def _end(duration_s: float = 0.6) -> CallEnd:
    return CallEnd(int(duration_s * 1000), NOW_MS)


def test_a_subscriptions_usage_limit_pauses_until_the_reset_the_cli_printed() -> None:
    env = _refused(429, "rate_limit_error", "You've hit your 5-hour limit · resets 5:20pm (UTC)",
                   api_error="usage_limit_reached")  # fmt: skip
    refusal = classify(env, _end())
    assert isinstance(refusal, ClaudeUsageLimit)
    # The CLI printed the minute, rounded down: the reset comes before that minute ends.
    assert refusal.until_ms == int(datetime(2026, 12, 7, 17, 21, tzinfo=UTC).timestamp() * 1000)


def test_a_reset_on_another_day_is_read_with_its_date_and_zone() -> None:
    text = "You've hit your weekly limit · resets Dec 9, 11:54pm (Europe/Paris)"
    expected = datetime(2026, 12, 9, 22, 55, tzinfo=UTC)
    assert reset_ms(text, NOW_MS) == int(expected.timestamp() * 1000)


def test_a_reset_earlier_in_the_day_than_now_is_tomorrows() -> None:
    expected = datetime(2026, 12, 8, 9, 1, tzinfo=UTC)
    assert reset_ms("resets 9am (UTC)", NOW_MS) == int(expected.timestamp() * 1000)


def test_a_reset_printed_in_the_minute_that_just_ended_is_now() -> None:
    # NOW is 16:20:00; the reset was due before 16:20 ended a moment ago.
    assert reset_ms("resets 4:19pm (UTC)", NOW_MS) == NOW_MS
    assert reset_ms("resets 4:20pm (UTC)", NOW_MS + 30_000) == NOW_MS + 60_000


def test_a_usage_limit_without_a_readable_reset_has_no_end() -> None:
    env = _refused(
        429, "rate_limit_error", "You've hit your limit", api_error="usage_limit_reached"
    )
    refusal = classify(env, _end())
    assert isinstance(refusal, ClaudeUsageLimit)
    assert refusal.until_ms is None


def test_a_rate_limit_that_ended_the_call_at_once_asked_for_more_than_a_minute() -> None:
    env = _refused(429, "rate_limit_error", "API Error: Request rejected (429) · slow down")
    refusal = classify(env, _end(0.6))
    assert isinstance(refusal, ClaudeRateLimited)
    assert refusal.until_ms == NOW_MS + 60_000


def test_a_rate_limit_after_the_clis_own_retries_has_no_known_end() -> None:
    env = _refused(429, "rate_limit_error", "API Error: Request rejected (429) · slow down")
    refusal = classify(env, _end(175))
    assert isinstance(refusal, ClaudeRateLimited)
    assert refusal.until_ms is None


@pytest.mark.parametrize(
    ("status", "kind", "text", "expected"),
    [
        (529, "overloaded_error", "API Error: Repeated 529 Overloaded errors.", ClaudeOverloaded),
        (500, "api_error", "API Error: 500 Internal server error", ClaudeOverloaded),
        (401, "authentication_error", "Failed to authenticate. API Error: 401",
         ClaudeCredentialRejected),
        (403, "permission_error", "Failed to authenticate. API Error: 403 no permission",
         ClaudeCredentialRejected),
        (402, "billing_error", "Credit balance is too low", ClaudeSpendLimit),
        (400, "invalid_request_error", "Credit balance is too low", ClaudeSpendLimit),
        (400, "invalid_request_error", "API Error: 400 You have reached your specified API "
         "usage limits. You will regain access on 2027-01-01 at 00:00 UTC.", ClaudeSpendLimit),
        (400, "invalid_request_error", "API Error: 400 prompt is too long", ClaudeInvalidRequest),
    ],
)  # fmt: skip
def test_each_refusal_has_its_own_type(status: int, kind: str, text: str, expected: type) -> None:
    assert isinstance(classify(_refused(status, kind, text), _end()), expected)


def test_answer_errors_are_no_refusals() -> None:
    max_turns = ResultEnvelope.model_validate(
        {"subtype": "error_max_turns", "is_error": True, "errors": ["max turns"]}
    )
    success = ResultEnvelope.model_validate({"subtype": "success", "is_error": False})
    assert classify(max_turns, _end()) is None
    assert classify(success, _end()) is None
