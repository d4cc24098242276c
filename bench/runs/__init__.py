"""The benchmarks. Each returns rows for docs/BENCHMARKS.md: the figure, its reference
measured in the same run, and the goal."""

from __future__ import annotations

from bench.runs.convex_cost import (
    convex_cancel,
    convex_idle,
    convex_job_calls,
    convex_subscription_pickup,
)
from bench.runs.dashboard import dashboard_refresh
from bench.runs.engines import (
    chapters_as_reviewed,
    claude_cli,
    claude_limits,
    claude_reviews,
    fanout,
    offline_engine,
    regenerate,
)
from bench.runs.latency import idle_bridge, overhead, pickup
from bench.runs.recovery import recovery, store
from bench.runs.row import Row, machine
from bench.runs.throughput import scaling, throughput

__all__ = [
    "Row",
    "chapters_as_reviewed",
    "claude_cli",
    "claude_limits",
    "claude_reviews",
    "convex_cancel",
    "convex_idle",
    "convex_job_calls",
    "convex_subscription_pickup",
    "dashboard_refresh",
    "fanout",
    "idle_bridge",
    "machine",
    "offline_engine",
    "overhead",
    "pickup",
    "recovery",
    "regenerate",
    "scaling",
    "store",
    "throughput",
]
