"""What the fleet's Claude calls look like in the workers' shared Redis, read-only: the
pause and its reason, the calls running and waiting, the last hour's cost. The Claude
engine's gate (analysis/claude/gate.py) writes this state; the bridge's health view reads
it here, on the ground floor both may import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import redis

from fondation import keys

# What stops the fleet's Claude calls, by cause. "rate_limit" and "overloaded" pass by
# themselves; "usage_limit" ends at its announced reset; "credential" and "spend" need
# an operator (or, for "credential", a probe call that succeeds).
PauseReason = Literal["rate_limit", "overloaded", "usage_limit", "credential", "spend"]
PAUSE_REASONS: tuple[PauseReason, ...] = (
    "rate_limit", "overloaded", "usage_limit", "credential", "spend",
)  # fmt: skip
NO_END = -1  # a pause with no end: an operator must act


@dataclass(frozen=True)
class Pause:
    reason: PauseReason
    until_ms: int  # NO_END: until an operator acts
    since_ms: int
    strikes: int
    detail: str
    credential: str = ""  # a fingerprint of the credential the API refused, never the value


@dataclass(frozen=True)
class FleetState:
    """What the operator sees: calls running and waiting, the pause, the last hour's cost."""

    running: int
    waiting: int
    pause: Pause | None
    cost_last_hour_usd: float


def read_pause(client: redis.Redis) -> Pause | None:
    raw = client.hgetall(keys.CLAUDE_PAUSE)
    if not raw:
        return None
    doc = {_text(k): _text(v) for k, v in raw.items()}
    reason = doc.get("reason", "")
    if reason not in PAUSE_REASONS:
        return None
    return Pause(
        reason=reason,
        until_ms=int(float(doc.get("until_ms", NO_END))),
        since_ms=int(float(doc.get("since_ms", 0))),
        strikes=int(float(doc.get("strikes", 0))),
        detail=doc.get("detail", ""),
        credential=doc.get("credential", ""),
    )


def lift_pause(client: redis.Redis) -> Pause | None:
    """An operator's override: end the fleet's pause now; the pause that was lifted."""
    pause = read_pause(client)
    client.delete(keys.CLAUDE_PAUSE)
    return pause


def fleet_state(client: redis.Redis, now_ms: int) -> FleetState:
    """The fleet's Claude calls as Redis holds them, for /health, /metrics and the
    dashboard. Expired entries are not counted."""
    pipe = client.pipeline(transaction=False)
    pipe.zcount(keys.CLAUDE_RUNNING, now_ms, "+inf")
    pipe.zcard(keys.CLAUDE_WAITING)
    minute = now_ms // 60_000
    for m in range(minute - 59, minute + 1):
        pipe.get(keys.claude_cost(m))
    running, waiting, *costs = pipe.execute()
    cost = sum(float(_text(c)) for c in costs if c is not None)
    return FleetState(int(running), int(waiting), read_pause(client), round(cost, 6))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
