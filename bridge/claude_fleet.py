"""The fleet's Claude calls as the operator sees them: a ``claude`` check in /health, the
``fondation_claude_*`` gauges in /metrics (read from Redis at each scrape), and the
dashboard's line. The state itself is the gate's (analysis/claude/gate.py).

The check fails only when an operator must act: a rejected credential (until a probe
call works, or the workers restart with a new one) or a spend limit. A rate limit, a
usage limit or an overload pass by themselves: the check stays ok and says until when.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import redis
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from fondation.claude_fleet import NO_END, PAUSE_REASONS, FleetState, Pause, fleet_state

# Pauses that last until an operator acts.
_NEEDS_OPERATOR = {"credential", "spend"}
_ACTION = {
    "credential": "renew the credential and restart the workers (a probe call retries "
    "every CLAUDE_PROBE_INTERVAL_S)",
    "spend": "raise the spend limit or add credit, then run `fondation claude-resume`",
}


def read_state(client: redis.Redis, now_ms: int) -> FleetState:
    return fleet_state(client, now_ms)


def shows_claude(state: FleetState, engine: str) -> bool:
    """Whether /health shows the check: on Claude workers, or whenever Redis holds
    Claude calls or a pause (a bridge's own settings may not name the workers' engine)."""
    return engine == "claude" or bool(state.running or state.waiting or state.pause)


def check_fields(state: FleetState, now_ms: int) -> tuple[bool, str, dict[str, Any]]:
    """(ok, detail, value) of the ``claude`` check."""
    value: dict[str, Any] = {
        "running": state.running,
        "waiting": state.waiting,
        "cost_last_hour_usd": state.cost_last_hour_usd,
        "pause": _pause_dict(state.pause),
    }
    calls = f"{state.running} calls running, {state.waiting} waiting"
    pause = state.pause
    if pause is None:
        return True, f"{calls}, ${state.cost_last_hour_usd:.2f} in the last hour", value
    why = f"paused ({pause.reason}) {_until(pause, now_ms)}: {pause.detail[:200]}"
    if pause.reason in _NEEDS_OPERATOR:
        return False, f"{why}; {_ACTION[pause.reason]}; {calls}", value
    return True, f"{why}; {calls}", value


def _until(pause: Pause, now_ms: int) -> str:
    if pause.until_ms == NO_END:
        return "until an operator acts"
    if pause.until_ms <= now_ms:
        # Past its end, one call at a time probes; the first that works lifts it.
        return (
            f"since {_iso(pause.since_ms)}, ended {_iso(pause.until_ms)}, waiting for a probe call"
        )
    return f"until {_iso(pause.until_ms)}"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pause_dict(pause: Pause | None) -> dict[str, Any] | None:
    if pause is None:
        return None
    return {
        "reason": pause.reason,
        "since": _iso(pause.since_ms),
        "until": None if pause.until_ms == NO_END else _iso(pause.until_ms),
        "strikes": pause.strikes,
        "detail": pause.detail[:200],
    }


def dashboard_fields(state: FleetState, now_ms: int) -> dict[str, Any]:
    ok, detail, value = check_fields(state, now_ms)
    return {"ok": ok, "detail": detail, **value}


class ClaudeFleetCollector(Collector):
    """Gauges read from Redis at each scrape, so every bridge reports the fleet's state."""

    def __init__(self, client: redis.Redis, clock_ms: Callable[[], int]) -> None:
        self.client = client
        self.clock_ms = clock_ms

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            state = read_state(self.client, self.clock_ms())
        except (redis.RedisError, OSError):
            return
        yield GaugeMetricFamily(
            "fondation_claude_calls_running", "Claude calls running in the fleet",
            value=state.running,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "fondation_claude_calls_waiting", "Claude calls waiting for a slot or a pause",
            value=state.waiting,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "fondation_claude_cost_usd_last_hour",
            "What the fleet's Claude calls of the last hour cost (the CLI's total_cost_usd)",
            value=state.cost_last_hour_usd,
        )
        paused = GaugeMetricFamily(
            "fondation_claude_paused", "1 while the fleet's Claude calls are paused, by reason",
            labels=["reason"],
        )  # fmt: skip
        for reason in PAUSE_REASONS:
            on = state.pause is not None and state.pause.reason == reason
            paused.add_metric([reason], 1.0 if on else 0.0)
        yield paused
        until = state.pause.until_ms / 1000 if state.pause and state.pause.until_ms > 0 else 0
        yield GaugeMetricFamily(
            "fondation_claude_pause_until_seconds",
            "When the pause ends, epoch seconds (0: no pause, or until an operator acts)",
            value=until,
        )


_REGISTERED: weakref.WeakSet[CollectorRegistry] = weakref.WeakSet()


def register_collector(
    registry: CollectorRegistry, client: redis.Redis, clock_ms: Callable[[], int]
) -> None:
    """Once per registry: a bridge's health view may be built again (in tests)."""
    if registry not in _REGISTERED:
        registry.register(ClaudeFleetCollector(client, clock_ms))
        _REGISTERED.add(registry)
