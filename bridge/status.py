"""What the health view reports, computed from the bridge, the store and Redis."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import redis
from prometheus_client import CollectorRegistry

from bridge import claude_fleet
from bridge.queue_depth import queue_depth
from bridge.snapshot import SubscriptionView
from bridge.workers import consuming, live_workers
from fondation.errors import FondationError
from fondation.steps import STEP_NAMES
from store.records import ACTIVE_STATUSES

if TYPE_CHECKING:
    from bridge.loop import Bridge


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    value: Any = None


@dataclass
class HealthReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "failing",
            "checks": {
                c.name: {"ok": c.ok, "detail": c.detail, "value": c.value} for c in self.checks
            },
        }


def collect_health(bridge: Bridge) -> HealthReport:
    """The checks of /health, from the bridge's snapshot, the store and Redis. Reads only:
    the gauges are the metrics' own (``BridgeMetrics.watch``)."""
    s = bridge.settings
    report = HealthReport()
    snap = bridge.snapshot()
    now = snap.now_ms
    # The dead-man's switch: a loop that stopped ticking fails the check by itself.
    if snap.since_last_tick_s is None:
        report.checks.append(Check("loop", False, "the loop has not ticked yet", None))
    else:
        age = snap.since_last_tick_s
        limit = max(s.poll_interval_s, s.worker_liveness_interval_s) * 3 + 10
        report.checks.append(
            Check(
                "loop",
                age < limit,
                f"last tick {age:.1f} s ago (limit {limit:.0f} s)",
                round(age, 3),
            )
        )
    try:
        started = time.monotonic()
        oldest = bridge.store.oldest_pending(now)
        ms = (time.monotonic() - started) * 1000
        report.checks.append(Check("store", True, f"answered in {ms:.0f} ms", round(ms, 1)))
        age_s = None if oldest is None else round((now - oldest) / 1000, 1)
        report.checks.append(
            Check(
                "oldest_pending",
                True,
                "no job waits" if age_s is None else f"oldest ready job waits {age_s} s",
                age_s,
            )
        )
    except FondationError as exc:
        report.checks.append(Check("store", False, f"unreachable: {type(exc).__name__}", None))
    try:
        bridge.redis.ping()
        workers = live_workers(bridge.redis)
        depth = queue_depth(bridge.redis, s.celery_queue)
        report.checks.append(Check("redis", True, "reachable", None))
        names = consuming(workers, s.celery_queue)
        report.checks.append(
            Check("workers", bool(names), f"{len(names)} consuming queue {s.celery_queue}", names)
        )
        report.checks.append(Check("queue", True, f"{depth} step messages waiting", depth))
    except (redis.RedisError, OSError) as exc:
        report.checks.append(Check("redis", False, f"unreachable: {type(exc).__name__}", None))
    subscription = subscription_check(snap.subscription)
    if subscription is not None:
        report.checks.append(subscription)
    near = snap.leases_near_expiry(s.lease_ms / 4)
    report.checks.append(Check("leases", not near, f"{len(near)} leases near expiry", near))
    _claude_check(bridge, report, now)
    return report


def _claude_check(bridge: Bridge, report: HealthReport, now: int) -> None:
    """The fleet's Claude calls: running, waiting, and why they are paused."""
    try:
        state = claude_fleet.read_state(bridge.redis, now)
    except (redis.RedisError, OSError):
        return  # the redis check already fails
    if claude_fleet.shows_claude(state, bridge.settings.analysis_engine):
        report.checks.append(Check("claude", *claude_fleet.check_fields(state, now)))


def subscription_check(view: SubscriptionView | None) -> Check | None:
    """The Convex subscription's state (bridge/watch.py), on Convex only. While it is
    down the bridge still claims, through its safety-net poll: the check fails to say
    that pickup waits up to that poll's interval."""
    if view is None:
        return None
    status = view.status
    value = {
        "state": status.state,
        "since_s": status.since_s,
        "restarts": status.restarts,
        "updates": status.updates,
        "last_update_age_s": status.last_update_age_s,
        "missed_jobs": view.missed_jobs,
        "safety_poll_s": view.safety_poll_s,
    }
    if status.state == "live":
        return Check("subscription", True, f"live for {status.since_s:.0f} s", value)
    if status.state == "starting" and status.since_s < status.start_grace_s:
        return Check("subscription", True, f"connecting for {status.since_s:.0f} s", value)
    why = f" ({status.last_error})" if status.last_error else ""
    return Check(
        "subscription",
        False,
        f"{status.state} for {status.since_s:.0f} s{why}, {status.restarts} restarts:"
        f" jobs are picked up by the safety-net poll every {view.safety_poll_s:.0f} s",
        value,
    )


def dashboard_state(bridge: Bridge, flower_url: str | None) -> dict[str, Any]:
    """Jobs with their step progress, workers, queue depth and recent failures."""
    store = bridge.store
    jobs = store.list_jobs(limit=30)
    rows = []
    for job in jobs:
        steps = {st.step: st.status for st in store.step_states(job.id)}
        rows.append(
            {
                "id": job.id,
                "status": job.status,
                "progress": job.progress,
                "attempts": job.attempts,
                "createdAt": job.created_at,
                "lastError": job.last_error,
                "steps": [
                    {"name": STEP_NAMES[i], "state": steps.get(i, "waiting")}
                    for i in range(len(STEP_NAMES))
                ],
                "active": job.status in ACTIVE_STATUSES,
                "flower": f"{flower_url.rstrip('/')}/tasks?search={job.id}" if flower_url else None,
            }
        )
    try:
        workers = live_workers(bridge.redis)
        depth = queue_depth(bridge.redis, bridge.settings.celery_queue)
    except (redis.RedisError, OSError):
        workers, depth = {}, None
    failures = [
        r
        for r in rows
        if r["status"] in {"failed", "dead"} or (r["lastError"] and r["status"] == "pending")
    ][:10]
    return {
        "bridge": bridge.owner,
        "jobs": rows,
        "workers": [{"name": n, "queues": q} for n, q in sorted(workers.items())],
        "queues": {bridge.settings.celery_queue: depth},
        "failures": [
            {"id": f["id"], "status": f["status"], "lastError": f["lastError"]} for f in failures
        ],
        "counts": store.count_by_status(),
        "claude": _claude_dashboard(bridge),
    }


def _claude_dashboard(bridge: Bridge) -> dict[str, Any] | None:
    now = bridge.clock_ms()
    try:
        state = claude_fleet.read_state(bridge.redis, now)
    except (redis.RedisError, OSError):
        return None
    if not claude_fleet.shows_claude(state, bridge.settings.analysis_engine):
        return None
    return claude_fleet.dashboard_fields(state, now)


def metrics_json(registry: CollectorRegistry) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metric in registry.collect():
        samples = []
        for sample in metric.samples:
            samples.append({"name": sample.name, "labels": sample.labels, "value": sample.value})
        out[metric.name] = {"type": metric.type, "help": metric.documentation, "samples": samples}
    return out
