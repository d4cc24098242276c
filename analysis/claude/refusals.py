"""How a call that the API refused ended, read from the CLI's own result object.

The pinned CLI (2.1.332) ends every refused call with ``is_error: true``,
``terminal_reason: "api_error"``, ``api_error_status`` and ``api_error_type`` (the API's
error type), and a ``result`` text; a subscription's usage limit also carries
``api_error: "usage_limit_reached"`` and the text "You've hit your 5-hour limit ·
resets 5:20pm (UTC)". docs/CLAUDE.md ("When the API says no") lists what each looked
like and how it was measured. Each refusal becomes one exception type, so that the
engine asks again (answer errors), the fleet waits (limits, overload) or pauses
(usage limit, credential, spend), or the job fails at once (invalid request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analysis.claude.result import ResultEnvelope
from fondation.claude_fleet import PauseReason
from fondation.errors import PermanentError, TransientError

# The CLI waits within the call for a retry-after of up to 60 s and gives up at once on a
# longer one, so a 429 that ended the call quickly announced at least this long.
CLI_MAX_RETRY_AFTER_S = 60.0

_SPEND_PATTERNS = (
    re.compile(r"credit balance is too low", re.IGNORECASE),
    re.compile(r"reached your specified API usage limits", re.IGNORECASE),
)
_USAGE_LIMIT = re.compile(r"hit your (?:[\w-]+ )?limit", re.IGNORECASE)
# "resets 5:20pm (UTC)", "resets Dec 9, 11:54pm (Europe/Paris)", "resets 5pm (UTC)".
_RESETS = re.compile(
    r"resets\s+(?:(?P<month>[A-Z][a-z]{2})\s+(?P<day>\d{1,2}),\s*)?"
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>am|pm)"
    r"(?:\s*\((?P<zone>[^)]+)\))?",
    re.IGNORECASE,
)
_PRINTED_TO = timedelta(minutes=1)
# A reset printed a moment ago has passed; one hours ago is tomorrow's.
_JUST_PASSED = timedelta(hours=1)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


class ClaudeRefused(TransientError):
    """The API refused the call for a reason that concerns the whole fleet, not this
    answer: the fleet waits (``pause``), and the call is asked again after it, spending
    no attempt of the job. Transient only where no fleet gate catches it."""

    reason: PauseReason = "rate_limit"

    def __init__(self, message: str, *, until_ms: int | None, status: int | None) -> None:
        super().__init__(message)
        # When the API said it would answer again (None: it did not say).
        self.until_ms = until_ms
        self.status = status


class ClaudeRateLimited(ClaudeRefused):
    reason: PauseReason = "rate_limit"


class ClaudeOverloaded(ClaudeRefused):
    reason: PauseReason = "overloaded"


class ClaudeUsageLimit(ClaudeRefused):
    reason: PauseReason = "usage_limit"


class ClaudeCredentialRejected(ClaudeRefused):
    reason: PauseReason = "credential"


class ClaudeSpendLimit(ClaudeRefused):
    reason: PauseReason = "spend"


class ClaudeInvalidRequest(PermanentError):
    """The API refused the request itself (400): asking again cannot help."""


@dataclass(frozen=True)
class CallEnd:
    """What the classification needs besides the result object."""

    duration_ms: int  # the call's wall time
    now_ms: int  # when it ended
    # How long a 429 that ended the call at once asked to wait, at least (the CLI hides
    # its retry-after): CLAUDE_RATE_LIMIT_WAIT_S.
    rate_limit_wait_ms: int = int(CLI_MAX_RETRY_AFTER_S * 1000)


def classify(envelope: ResultEnvelope, end: CallEnd) -> ClaudeRefused | ClaudeInvalidRequest | None:
    """The refusal this result object reports, or None when it is no API refusal (an
    answer, or an answer error the engine asks again about)."""
    if not envelope.is_error:
        return None
    extra = envelope.model_extra or {}
    status = _int(extra.get("api_error_status"))
    kind = str(extra.get("api_error_type") or "")
    text = envelope.result or ""
    detail = f"claude: {text[:300] or kind or status}"
    if extra.get("api_error") == "usage_limit_reached" or _USAGE_LIMIT.search(text):
        return ClaudeUsageLimit(detail, until_ms=reset_ms(text, end.now_ms), status=status)
    if kind == "billing_error" or status == 402 or any(p.search(text) for p in _SPEND_PATTERNS):
        return ClaudeSpendLimit(detail, until_ms=None, status=status)
    if status in (401, 403) or kind in ("authentication_error", "permission_error"):
        return ClaudeCredentialRejected(detail, until_ms=None, status=status)
    if status == 429 or kind == "rate_limit_error":
        return ClaudeRateLimited(detail, until_ms=_rate_limit_until(end), status=status)
    if (status is not None and (status == 529 or status >= 500)) or kind in (
        "overloaded_error", "api_error",
    ):  # fmt: skip
        return ClaudeOverloaded(detail, until_ms=None, status=status)
    if status == 400 or kind == "invalid_request_error":
        return ClaudeInvalidRequest(detail)
    return None


def _rate_limit_until(end: CallEnd) -> int | None:
    # The CLI does not print retry-after. It waits out up to 60 s itself, so a call that
    # ended within a few seconds was told to wait longer than that: at least 60 s more.
    if end.duration_ms < 10_000:
        return end.now_ms + end.rate_limit_wait_ms
    return None


def reset_ms(text: str, now_ms: int) -> int | None:
    """The reset the CLI announced ("resets 5:20pm (UTC)"), as epoch ms: the end of that
    minute, the next such time in the zone it names (a reset that passed a moment ago is
    now); None when there is none to read."""
    found = _RESETS.search(text)
    if found is None:
        return None
    try:
        return _next_reset(found, now_ms)
    except ValueError:  # a date that does not exist, an unknown month
        return None


def _next_reset(found: re.Match[str], now_ms: int) -> int:
    try:
        zone = ZoneInfo((found["zone"] or "UTC").strip())
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    now = datetime.fromtimestamp(now_ms / 1000, UTC).astimezone(zone)
    hour = int(found["hour"]) % 12 + (12 if found["ampm"].lower() == "pm" else 0)
    minute = int(found["minute"] or 0)
    # The CLI prints the reset's minute, rounded down: it comes within the next 60 s.
    at = now.replace(hour=hour, minute=minute, second=0, microsecond=0) + _PRINTED_TO
    if found["month"]:
        month = _MONTHS.index(found["month"].lower()[:3]) + 1
        at = at.replace(month=month, day=int(found["day"]))
        if at < now - timedelta(days=1):
            at = at.replace(year=at.year + 1)
    elif at <= now - _JUST_PASSED:
        at += timedelta(days=1)  # a time of day without a date is the next one
    return int(max(at, now).timestamp() * 1000)


def _int(value: object) -> int | None:
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None
