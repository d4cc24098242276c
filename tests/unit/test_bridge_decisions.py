"""Each decision of the lease loop, one tick at a time: the real SQLite store, the real
Redis (the Celery queue is a Redis list: a dispatched chain is a message in it), a Celery
app that publishes but no worker, and a ``FakeClock`` the test moves on. Nothing sleeps
and no process is started."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from bridge.loop import Bridge
from bridge.status import collect_health
from fondation import keys
from fondation.clock import FakeClock
from fondation.settings import Settings, load_settings
from store.convex.watch import WatchUpdate
from store.convex_watch import WatchStatus
from store.records import JobSpec, RepositorySpec
from store.sqlite import SqliteStore
from tasks.worker.app import create_app
from tests.support.outage_store import OutageStore

T0 = 1_700_000_000_000
POLL_S = 5.0
LIVENESS_S = 10.0
HEARTBEAT_S = 30.0
LEASE_S = 300.0
GRACE_S = LIVENESS_S * 3


def _settings(sqlite_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "sqlite_path": sqlite_path,
        "worker_id": "b1",
        "poll_interval_ms": int(POLL_S * 1000),
        "worker_liveness_interval_s": LIVENESS_S,
        "heartbeat_interval_ms": int(HEARTBEAT_S * 1000),
        "lease_time_ms": int(LEASE_S * 1000),
        "max_concurrent_jobs": 2,
        "queue_high_water": 10,
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class Rig:
    """A store, a Redis and a clock, and the bridge built on them by ``start``."""

    sqlite_path: Path
    redis_url: str
    store: OutageStore
    client: redis.Redis
    clock: FakeClock = field(default_factory=lambda: FakeClock(now_ms=T0))

    def start(self, jobs: int, *, tick: bool = True, **overrides: object) -> list[str]:
        """Create ``jobs`` pending jobs and a bridge; its first tick claims what it may."""
        self.settings = _settings(self.sqlite_path, **overrides)
        ids = _jobs(self.store, jobs)
        app = create_app(self.settings, self.redis_url)
        self.bridge = Bridge(self.settings, self.store, app, self.client, clock=self.clock)
        if tick:
            self.bridge.tick()
        return ids

    def tick_after(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.bridge.tick()

    def queued(self) -> int:
        return int(self.client.llen(self.settings.celery_queue))


@pytest.fixture
def rig(sqlite_path: Path, redis_url: str) -> Iterator[Rig]:
    store = OutageStore(sqlite_path)
    client = redis.Redis.from_url(redis_url)
    yield Rig(sqlite_path, redis_url, store, client)
    client.close()
    store.close()


def _jobs(store: SqliteStore, count: int) -> list[str]:
    repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), T0)
    return [
        store.create_job(JobSpec(user_id="u", repository_id=repo.id), T0 - 1_000)[0].id
        for _ in range(count)
    ]


def _take_over(store: SqliteStore, settings: Settings, now_ms: int) -> None:
    """Another bridge, b2, claims the job once its lease has expired."""
    later_ms = now_ms + 2 * settings.lease_ms
    store.reclaim_expired(later_ms, 10)
    assert store.claim_batch("b2", 1, settings.lease_ms, later_ms)


def _count(bridge: Bridge, metric: str) -> float:
    return bridge.metrics.registry.get_sample_value(f"fondation_{metric}_total") or 0.0


# --- admission ---------------------------------------------------------------------------


def test_a_bridge_claims_no_more_jobs_than_it_may_hold_at_once(rig: Rig) -> None:
    ids = rig.start(5, max_concurrent_jobs=2)
    assert sorted(rig.bridge.held) == sorted(ids[:2])
    assert rig.queued() == 2  # one chain sent per claimed job
    rig.tick_after(POLL_S)
    assert len(rig.bridge.held) == 2
    assert [rig.store.get_job(i).status for i in ids[2:]] == ["pending"] * 3


def test_a_bridge_claims_only_while_the_queue_is_below_its_high_water_mark(rig: Rig) -> None:
    ids = rig.start(4, tick=False, max_concurrent_jobs=4, queue_high_water=3)
    # Other bridges' messages wait in the shared queue: the workers are behind.
    for n in range(3):
        rig.client.rpush(rig.settings.celery_queue, json.dumps({"headers": {"id": f"o-{n}"}}))
    rig.bridge.tick()
    assert rig.bridge.held == {}
    assert rig.store.get_job(ids[0]).status == "pending"
    rig.client.lpop(rig.settings.celery_queue, 2)  # the workers took two
    rig.tick_after(POLL_S)
    assert list(rig.bridge.held) == ids[:2]  # room for two in the queue, capacity for four
    assert rig.queued() == 3


def test_a_stopping_bridge_claims_nothing(rig: Rig) -> None:
    [job_id] = rig.start(1, tick=False)
    rig.bridge.stopping.set()
    rig.bridge.tick()
    assert rig.bridge.held == {}
    assert rig.store.get_job(job_id).status == "pending"


# --- lost work ---------------------------------------------------------------------------


def test_work_gone_for_three_liveness_intervals_fails_the_attempt_and_retries_the_job(
    rig: Rig,
) -> None:
    [job_id] = rig.start(1)
    # A worker took the message and died before its first beat.
    rig.client.delete(rig.settings.celery_queue)
    # Young work is given its grace; then it is seen missing, and lost a grace later.
    rig.tick_after(GRACE_S)
    assert rig.bridge.held[job_id].missing_since_mono == rig.clock.monotonic()
    rig.tick_after(GRACE_S - LIVENESS_S)
    assert job_id in rig.bridge.held
    assert rig.store.get_job(job_id).locked_by == "b1"
    rig.tick_after(LIVENESS_S)
    job = rig.store.get_job(job_id)
    assert (job.status, job.locked_by, job.attempts) == ("pending", None, 1)
    assert "work lost: no worker ran Cloning repository" in (job.last_error or "")
    assert job_id not in rig.bridge.held
    assert rig.bridge.wake.is_set()  # claim again as soon as the backoff allows


def test_work_with_a_step_beat_or_a_message_in_the_queue_is_never_lost(rig: Rig) -> None:
    queued, running = rig.start(2)
    queue = rig.settings.celery_queue
    # One chain's message still waits; the other's was taken by a worker that beats.
    prefix = f"{running}-{rig.bridge.held[running].token[:8]}"
    messages = rig.client.lrange(queue, 0, -1)
    rig.client.delete(queue)
    for raw in messages:
        if not json.loads(raw)["headers"]["id"].startswith(prefix):
            rig.client.rpush(queue, raw)
    for _ in range(12):
        rig.client.set(keys.step_beat(running), "1", px=int(GRACE_S * 1000))
        rig.tick_after(LIVENESS_S)
    assert sorted(rig.bridge.held) == sorted([queued, running])
    assert rig.bridge.held[running].missing_since_mono is None
    assert rig.store.get_job(queued).attempts == 0


# --- leases ------------------------------------------------------------------------------


def test_a_bridge_renews_a_lease_once_per_heartbeat_interval(rig: Rig) -> None:
    [job_id] = rig.start(1)
    first_until = rig.store.get_job(job_id).lease_until
    assert first_until == T0 + rig.settings.lease_ms
    # Renewals are made on the store's turns, once per poll interval.
    rig.tick_after(HEARTBEAT_S - POLL_S)
    assert rig.store.get_job(job_id).lease_until == first_until
    rig.tick_after(POLL_S)
    assert rig.store.get_job(job_id).lease_until == rig.clock.now_ms() + rig.settings.lease_ms
    assert _count(rig.bridge, "lease_renewals") == 1


def test_a_lease_lost_at_renewal_drops_the_job_without_touching_it(rig: Rig) -> None:
    [job_id] = rig.start(1)
    rig.store.before_renew = lambda: _take_over(rig.store, rig.settings, rig.clock.now_ms())
    rig.tick_after(HEARTBEAT_S)
    assert job_id not in rig.bridge.held
    assert _count(rig.bridge, "leases_lost") == 1
    job = rig.store.get_job(job_id)
    assert (job.status, job.locked_by) == ("claimed", "b2")
    # The new holder's work is its own: no cancel flag is left for its steps.
    assert not rig.client.exists(keys.cancel_flag(job_id))


def test_a_job_taken_over_while_the_bridge_was_away_is_forgotten(rig: Rig) -> None:
    [job_id] = rig.start(1)
    _take_over(rig.store, rig.settings, rig.clock.now_ms())
    rig.tick_after(HEARTBEAT_S)
    assert job_id not in rig.bridge.held
    assert rig.store.get_job(job_id).locked_by == "b2"
    assert _count(rig.bridge, "lease_renewals") == 0


# --- cancel ------------------------------------------------------------------------------


def _assert_canceled(rig: Rig, job_id: str) -> None:
    assert rig.store.get_job(job_id).status == "canceled"
    # The running step's watchdog reads this flag and stops the step.
    assert rig.client.get(keys.cancel_flag(job_id)) == b"1"
    assert job_id not in rig.bridge.held
    assert [entry.msg for entry in rig.store.get_logs(job_id)][-1] == "Canceled"


def test_a_cancel_seen_at_the_next_poll_stops_the_work_and_marks_the_job_canceled(
    rig: Rig,
) -> None:
    [job_id] = rig.start(1)
    rig.store.request_cancel(job_id, rig.clock.now_ms())
    rig.bridge.wake.set()  # as the client's announce does
    rig.bridge.tick()
    _assert_canceled(rig, job_id)


def test_a_cancel_learnt_from_a_renewal_marks_the_job_canceled(rig: Rig) -> None:
    [job_id] = rig.start(1)
    # The cancel comes after the bridge read its jobs: only the renewal's answer has it.
    rig.store.before_renew = lambda: rig.store.request_cancel(job_id, rig.clock.now_ms())
    rig.tick_after(HEARTBEAT_S)
    _assert_canceled(rig, job_id)


def test_a_job_ended_under_the_bridge_by_the_web_app_has_its_running_step_stopped(
    rig: Rig,
) -> None:
    [job_id] = rig.start(1)
    # The web app cancels by writing the status and leaves the lease as it was.
    with sqlite3.connect(rig.sqlite_path) as db:
        db.execute("UPDATE jobs SET status='canceled' WHERE id=?", (job_id,))
    rig.bridge.wake.set()
    rig.bridge.tick()
    assert job_id not in rig.bridge.held
    assert rig.client.get(keys.cancel_flag(job_id)) == b"1"
    assert rig.store.get_job(job_id).status == "canceled"


# --- graceful stop -----------------------------------------------------------------------


def test_a_graceful_stop_gives_back_unstarted_jobs_and_leaves_running_ones_to_their_workers(
    rig: Rig,
) -> None:
    waiting, running = rig.start(2)
    rig.store.begin_step(running, rig.bridge.held[running].token, 0, "w1", rig.clock.now_ms())
    assert rig.client.exists(keys.bridge_alive("b1"))
    rig.bridge.stopping.set()  # as SIGTERM does
    rig.bridge.run()  # returns at once: the loop sees the stop and hands work back
    given_back = rig.store.get_job(waiting)
    assert (given_back.status, given_back.locked_by, given_back.attempts) == ("pending", None, 0)
    still_running = rig.store.get_job(running)
    assert (still_running.status, still_running.locked_by) == ("cloning", "b1")
    assert rig.bridge.held == {}
    assert not rig.client.exists(keys.bridge_alive("b1"))


# --- store outage ------------------------------------------------------------------------


def test_a_store_outage_is_ridden_out_with_backoff_and_the_held_jobs_are_kept(rig: Rig) -> None:
    [job_id] = rig.start(1)
    rig.store.down = True
    rig.tick_after(POLL_S)
    rig.tick_after(POLL_S)
    assert len(rig.store.refused) == 2
    # Two failures in a row: the next try waits two poll intervals, not one.
    rig.tick_after(POLL_S)
    assert len(rig.store.refused) == 2
    rig.tick_after(POLL_S)
    assert len(rig.store.refused) == 3
    assert list(rig.bridge.held) == [job_id]
    rig.store.down = False
    rig.tick_after(4 * POLL_S)
    assert rig.bridge.store_state.failures == 0
    assert list(rig.bridge.held) == [job_id]
    assert rig.store.get_job(job_id).lease_until == rig.clock.now_ms() + rig.settings.lease_ms


def test_the_loop_waits_for_the_sooner_of_its_two_cadences(rig: Rig) -> None:
    rig.start(0, tick=False, poll_interval_ms=5000, worker_liveness_interval_s=3.0)
    rig.bridge.tick()
    assert rig.bridge._sleep_s() == 3.0
    rig.tick_after(3.0)  # the liveness check only
    assert rig.bridge._sleep_s() == 2.0  # the store's turn comes first now


# --- health ------------------------------------------------------------------------------


def _health(rig: Rig) -> dict[str, bool]:
    return {c.name: c.ok for c in collect_health(rig.bridge).checks}


def test_the_health_check_fails_once_the_loop_stops_ticking(rig: Rig) -> None:
    rig.start(1)
    # The limit: three of the longer cadence (liveness, 10 s) and 10 s of slack.
    rig.clock.advance(LIVENESS_S * 3 + 10 - 0.1)
    assert _health(rig)["loop"]
    rig.clock.advance(0.2)
    assert not _health(rig)["loop"]


def test_the_health_check_flags_a_held_lease_near_its_expiry(rig: Rig) -> None:
    rig.start(1)
    rig.tick_after(POLL_S)  # the bridge's copy of its job now has the lease
    assert _health(rig)["leases"]
    rig.clock.advance(LEASE_S * 3 / 4 + 1 - POLL_S)  # no renewal came: the loop is stuck
    assert not _health(rig)["leases"]


def test_the_bridge_snapshot_is_taken_on_its_own_clock(rig: Rig) -> None:
    [job_id] = rig.start(1)
    rig.tick_after(POLL_S)  # the bridge's copy of its job now has the lease
    rig.clock.advance(7.5)
    snap = rig.bridge.snapshot()
    assert snap.now_ms == rig.clock.now_ms()
    assert snap.since_last_tick_s == pytest.approx(7.5)
    assert [lease.job_id for lease in snap.held] == [job_id]


def test_reading_the_health_sets_no_gauge_and_the_gauges_read_the_bridge(rig: Rig) -> None:
    rig.start(2)
    registry = rig.bridge.metrics.registry
    before = registry.get_sample_value("fondation_jobs_in_flight")
    collect_health(rig.bridge)
    assert registry.get_sample_value("fondation_jobs_in_flight") == before == len(rig.bridge.held)
    assert len(rig.bridge.held) == 2


# --- told by a subscription (Convex), the safety net, what is never asked ------------------


def _counting(rig: Rig, name: str) -> list[int]:
    """Count the calls of one store method from now on."""
    calls: list[int] = []
    method = getattr(rig.store, name)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return method(*args, **kwargs)

    setattr(rig.store, name, counted)
    return calls


def _told(
    rig: Rig,
    ready: tuple[str, ...] = (),
    next_run_at_ms: int | None = None,
    ended: dict[str, str] | None = None,
) -> None:
    rig.bridge.watch.on_update(WatchUpdate(ready, next_run_at_ms, ended or {}, ()))


def test_a_bridge_that_holds_nothing_asks_for_its_held_jobs_once_at_start_only(
    rig: Rig,
) -> None:
    rig.start(0, tick=False)
    held_jobs = _counting(rig, "held_jobs")
    rig.bridge.tick()
    assert len(held_jobs) == 1  # jobs held under this WORKER_ID before a restart
    for _ in range(5):
        rig.tick_after(POLL_S)
    assert len(held_jobs) == 1
    _jobs(rig.store, 1)
    rig.tick_after(POLL_S)  # claims it
    rig.tick_after(POLL_S)
    assert len(held_jobs) == 2


def test_a_store_whose_deployment_reclaims_leases_is_never_asked_to(rig: Rig) -> None:
    rig.start(0, tick=False)
    rig.store.reclaims_expired_leases = True
    reclaims = _counting(rig, "reclaim_expired")
    for _ in range(3):
        rig.tick_after(POLL_S)
    assert reclaims == []


def test_a_subscribed_bridge_polls_at_the_safety_nets_pace_and_claims_when_told(
    rig: Rig,
) -> None:
    rig.start(0, tick=False)
    rig.bridge.store_poll_s = 60.0
    rig.bridge.tick()
    claims = _counting(rig, "claim_batch")
    [job_id] = _jobs(rig.store, 1)
    rig.tick_after(POLL_S)
    assert claims == []
    _told(rig)  # an answer with nothing ready: no wake-up
    assert not rig.bridge.wake.is_set()
    _told(rig, ready=(job_id,))
    rig.bridge.tick()
    assert list(rig.bridge.held) == [job_id]
    # Without news the next claim waits for the safety net: a renewal's turn between
    # two polls renews and claims nothing.
    [other] = _jobs(rig.store, 1)
    rig.tick_after(HEARTBEAT_S)
    assert other not in rig.bridge.held
    rig.tick_after(60.0 - HEARTBEAT_S)
    assert other in rig.bridge.held


def test_a_job_falling_due_later_is_claimed_when_it_falls_due(rig: Rig) -> None:
    rig.start(0, tick=False)
    rig.bridge.store_poll_s = 60.0
    rig.bridge.tick()
    repo = rig.store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), T0)
    due = T0 + 7_000
    job, _ = rig.store.create_job(JobSpec(user_id="u", repository_id=repo.id, run_at=due), T0)
    _told(rig, next_run_at_ms=due)
    rig.bridge.tick()
    assert job.id not in rig.bridge.held
    assert rig.bridge._sleep_s() == 7.0
    rig.tick_after(7.0)
    assert job.id in rig.bridge.held


def test_a_lease_due_for_renewal_gets_its_turn_between_safety_polls_and_only_that(
    rig: Rig,
) -> None:
    [job_id] = rig.start(1)
    rig.bridge.store_poll_s = 600.0
    held_jobs, claims = _counting(rig, "held_jobs"), _counting(rig, "claim_batch")
    assert rig.bridge._sleep_s() <= HEARTBEAT_S
    rig.tick_after(HEARTBEAT_S)
    assert rig.store.get_job(job_id).lease_until == rig.clock.now_ms() + rig.settings.lease_ms
    assert (held_jobs, claims) == ([], [])


def test_news_of_a_held_job_ended_under_the_bridge_wakes_it_and_stops_the_work(
    rig: Rig,
) -> None:
    [job_id] = rig.start(1)
    rig.bridge.store_poll_s = 600.0
    _told(rig, ended={"someone-elses-job": "canceled"})
    assert not rig.bridge.wake.is_set()
    rig.store.request_cancel(job_id, rig.clock.now_ms())
    rig.bridge.watch.on_update(WatchUpdate((), None, {}, (job_id,)))
    assert rig.bridge.wake.is_set()
    rig.tick_after(0.1)
    _assert_canceled(rig, job_id)


class _LiveWatch:
    """A ConvexWatch stand-in that only reports itself live."""

    def status(self) -> WatchStatus:
        return WatchStatus("live", 1.0, 0, 1, 0.0, None, 20.0)

    def restart(self, reason: str) -> None:
        raise AssertionError(reason)


def test_a_wake_up_claims_nothing_while_the_live_subscription_says_nothing_is_ready(
    rig: Rig,
) -> None:
    rig.start(0, tick=False)
    rig.bridge.store_poll_s = 60.0
    rig.bridge.watch.attach(_LiveWatch())  # type: ignore[arg-type]
    rig.bridge.tick()
    claims = _counting(rig, "claim_batch")
    _told(rig)
    rig.bridge.wake.set()  # a job of another bridge ended, say
    rig.tick_after(0.1)
    assert claims == []
    [job_id] = _jobs(rig.store, 1)
    _told(rig, ready=(job_id,))
    rig.tick_after(0.1)
    assert list(rig.bridge.held) == [job_id]
