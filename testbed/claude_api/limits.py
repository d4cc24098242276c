"""The ways the Messages API says no, as the scripted API answers them: rate limits with
and without ``retry-after``, a subscription's usage limit with the unified headers, an
overload, a rejected credential, a spend limit and an empty credit balance.

The bodies and headers are the API's own: error ``type`` per status (400
invalid_request_error, 401 authentication_error, 402 billing_error, 403 permission_error,
429 rate_limit_error, 529 overloaded_error) and the ``anthropic-ratelimit-unified-*``
headers a subscription's responses carry.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from testbed.claude_api.server import Failure, Reply, Request, Scenario

SPEND_LIMIT_MESSAGE = (
    "You have reached your specified API usage limits. You will regain access on "
    "2027-01-01 at 00:00 UTC."
)
NO_CREDIT_MESSAGE = (
    "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
    "Billing to upgrade or purchase credits."
)


def rate_limited(
    retry_after_s: float | None = None,
    *,
    unified_reset_epoch_s: int | None = None,
    claim: str = "five_hour",
) -> Failure:
    """A 429; with ``unified_reset_epoch_s`` it is a subscription's: status ``rejected``
    and the reset in epoch seconds, as the API sends them to OAuth tokens."""
    headers: list[tuple[str, str]] = []
    if retry_after_s is not None:
        headers.append(("retry-after", f"{retry_after_s:g}"))
    if unified_reset_epoch_s is not None:
        headers += [
            ("anthropic-ratelimit-unified-status", "rejected"),
            ("anthropic-ratelimit-unified-reset", str(unified_reset_epoch_s)),
            ("anthropic-ratelimit-unified-representative-claim", claim),
            (f"anthropic-ratelimit-unified-{claim.replace('_', '-')}-status", "rejected"),
            (f"anthropic-ratelimit-unified-{claim.replace('_', '-')}-reset",
             str(unified_reset_epoch_s)),
        ]  # fmt: skip
    return Failure(429, "rate_limit_error", "Number of requests has exceeded your rate limit",
                   tuple(headers))  # fmt: skip


def overloaded() -> Failure:
    return Failure(529, "overloaded_error", "Overloaded")


def unauthorized() -> Failure:
    return Failure(401, "authentication_error", "invalid x-api-key")


def forbidden() -> Failure:
    message = "Your API key does not have permission to use the specified resource."
    return Failure(403, "permission_error", message)


def spend_limit() -> Failure:
    return Failure(400, "invalid_request_error", SPEND_LIMIT_MESSAGE)


def no_credit() -> Failure:
    return Failure(400, "invalid_request_error", NO_CREDIT_MESSAGE)


def billing_error() -> Failure:
    return Failure(402, "billing_error", NO_CREDIT_MESSAGE)


def invalid_request() -> Failure:
    return Failure(400, "invalid_request_error", "messages: at least one message is required")


def failing_first(n: int, failure: Callable[[], Failure], then: Scenario) -> Scenario:
    """The first ``n`` requests fail, every later one is answered by ``then``."""
    seen = 0
    lock = threading.Lock()

    def scenario(req: Request) -> Reply | Failure:
        nonlocal seen
        with lock:
            seen += 1
            mine = seen
        return failure() if mine <= n else then(req)

    return scenario


def failing_until(deadline_monotonic: float, failure: Callable[[], Failure],
                  then: Scenario) -> Scenario:  # fmt: skip
    """Every request fails until ``deadline_monotonic``, then ``then`` answers."""

    def scenario(req: Request) -> Reply | Failure:
        return failure() if time.monotonic() < deadline_monotonic else then(req)

    return scenario
