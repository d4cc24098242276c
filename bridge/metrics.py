"""The bridge's Prometheus metrics, in a registry of its own (one per bridge)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import redis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from fondation.steps import STEP_NAMES
from store.records import JobRecord, StepState

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_DURATION_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)


class BridgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.jobs = Counter(
            "fondation_jobs", "Jobs by outcome seen by this bridge", ["event"], registry=r
        )
        self.pickup = Histogram(
            "fondation_pickup_latency_seconds",
            "From a job being ready to its claim",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.end_to_end = Histogram(
            "fondation_job_duration_seconds",
            "From claim to the job's end",
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.step_duration = Histogram(
            "fondation_step_duration_seconds",
            "Duration of each step",
            ["step"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.queue = Gauge("fondation_queue_depth", "Step messages waiting", registry=r)
        self.in_flight = Gauge("fondation_jobs_in_flight", "Jobs this bridge holds", registry=r)
        self.workers = Gauge("fondation_workers", "Workers alive", registry=r)
        self.renewals = Counter("fondation_lease_renewals", "Lease renewals", registry=r)
        self.leases_lost = Counter("fondation_leases_lost", "Leases lost", registry=r)
        self.lost_work = Counter(
            "fondation_work_lost", "Jobs whose worker vanished mid-step", registry=r
        )
        # The Convex subscription (store/convex_watch.py), on Convex only.
        self.subscription_up = Gauge(
            "fondation_convex_subscription_up",
            "1 while the Convex subscription delivers answers",
            registry=r,
        )
        self.subscription_restarts = Counter(
            "fondation_convex_subscription_restarts",
            "Subscriber processes replaced, by cause (exited, watchdog, asked)",
            ["cause"],
            registry=r,
        )
        self.subscription_updates = Counter(
            "fondation_convex_subscription_updates",
            "Answers the subscription delivered",
            registry=r,
        )
        self.subscription_missed_jobs = Counter(
            "fondation_convex_subscription_missed",
            "Claims of the safety-net poll the subscription never announced",
            registry=r,
        )

    def watch(self, held_count: Callable[[], int], worker_count: Callable[[], int]) -> None:
        """The two gauges read their values when they are scraped, so no reader of the
        bridge has to set them as it reads."""
        self.in_flight.set_function(held_count)
        self.workers.set_function(lambda: _or_nan(worker_count))

    def claimed(self, waited_ms: int) -> None:
        self.jobs.labels("claimed").inc()
        self.pickup.observe(max(waited_ms, 0) / 1000)

    def job_finished(self, job: JobRecord, held_ms: int) -> None:
        if job.status in {"completed", "failed", "dead", "canceled"}:
            self.jobs.labels(job.status).inc()
            self.end_to_end.observe(max(held_ms, 0) / 1000)

    def steps_finished(self, steps: Sequence[StepState]) -> None:
        for st in steps:
            if st.status == "completed" and st.completed_at is not None:
                seconds = max(st.completed_at - st.started_at, 0) / 1000
                self.step_duration.labels(STEP_NAMES[st.step]).observe(seconds)

    def retried(self) -> None:
        self.jobs.labels("retried").inc()

    def lease_renewed(self) -> None:
        self.renewals.inc()

    def lease_lost(self) -> None:
        self.leases_lost.inc()

    def work_lost(self) -> None:
        self.lost_work.inc()

    # --- store/convex_watch.py's WatchEvents ---

    def subscription_state(self, up: bool) -> None:
        self.subscription_up.set(1 if up else 0)

    def subscription_restarted(self, reason: str) -> None:
        self.subscription_restarts.labels(reason.split(maxsplit=1)[0].rstrip(":")).inc()

    def subscription_updated(self) -> None:
        self.subscription_updates.inc()

    def subscription_missed(self) -> None:
        self.subscription_missed_jobs.inc()

    def queue_depth(self, depth: int) -> None:
        self.queue.set(depth)


def _or_nan(count: Callable[[], int]) -> float:
    # A scrape while Redis is away shows the gauge as unknown rather than failing /metrics.
    try:
        return float(count())
    except (redis.RedisError, OSError):
        return math.nan
