"""Bridges look after each other's jobs: on a real Redis and a real SQLite store, a job
leased to a bridge whose beat is gone is given back once no work of it has been seen for
three liveness intervals, and only then. The clock is passed in; nothing sleeps."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import redis

from bridge.loop import Bridge
from bridge.metrics import BridgeMetrics
from bridge.peers import PeerWatch
from fondation import keys
from fondation.clock import FakeClock
from fondation.settings import Settings, load_settings
from store.records import JobSpec, RepositorySpec
from store.sqlite import SqliteStore
from tasks.worker.app import create_app

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000
LEASE_MS = 300_000


def _settings(sqlite_path: Path) -> Settings:
    # Three liveness intervals of 1 s: a dead bridge's idle job is given back after 3 s.
    return load_settings(sqlite_path=sqlite_path, worker_liveness_interval_s=1.0, worker_id="b1")


def _leased_jobs(store: SqliteStore, owner: str, count: int) -> list[str]:
    repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), T0)
    for _ in range(count):
        store.create_job(JobSpec(user_id="u", repository_id=repo.id), T0)
    return [c.job.id for c in store.claim_batch(owner, count, LEASE_MS, T0)]


def _watch(
    settings: Settings, store: SqliteStore, client: redis.Redis
) -> tuple[PeerWatch, threading.Event]:
    released = threading.Event()
    watch = PeerWatch(
        settings, store, client, owner="b1", clock_ms=lambda: T0 + 1_000,
        metrics=BridgeMetrics(), on_released=released.set,
    )  # fmt: skip
    return watch, released


def test_a_dead_bridges_idle_job_is_given_back_after_three_liveness_intervals(
    redis_url: str, sqlite_path: Path
) -> None:
    store = SqliteStore(sqlite_path)
    client = redis.Redis.from_url(redis_url)
    [job_id] = _leased_jobs(store, "dead", 1)
    client.sadd(keys.BRIDGES, "dead")  # it beat once, and its beat has expired since
    watch, released = _watch(_settings(sqlite_path), store, client)

    watch.check(now_mono=100.0)  # first seen without work
    watch.check(now_mono=102.9)
    assert store.get_job(job_id).locked_by == "dead"
    assert not released.is_set()

    watch.check(now_mono=103.0)
    job = store.get_job(job_id)
    assert (job.status, job.locked_by, job.attempts) == ("pending", None, 1)
    assert "bridge dead stopped" in (job.last_error or "")
    assert released.is_set()
    # It holds nothing now, so it leaves the list; a bridge that comes back adds itself.
    watch.check(now_mono=104.0)
    assert not client.sismember(keys.BRIDGES, "dead")


def test_jobs_with_running_work_or_a_live_bridge_are_left_alone(
    redis_url: str, sqlite_path: Path
) -> None:
    store = SqliteStore(sqlite_path)
    client = redis.Redis.from_url(redis_url)
    running, idle = _leased_jobs(store, "dead", 2)
    [alive_bridges] = _leased_jobs(store, "alive", 1)
    client.sadd(keys.BRIDGES, "dead", "alive")
    client.set(keys.bridge_alive("alive"), "1", px=60_000)
    # A worker still runs a step of this one: it renews the lease and finishes the job.
    client.set(keys.step_beat(running), "w", px=60_000)
    watch, _ = _watch(_settings(sqlite_path), store, client)
    for now in (100.0, 104.0, 108.0):
        watch.check(now_mono=now)
    assert store.get_job(running).locked_by == "dead"
    assert store.get_job(alive_bridges).locked_by == "alive"
    assert store.get_job(idle).status == "pending"
    # The step ends and nothing follows it: from then on the grace period runs.
    client.delete(keys.step_beat(running))
    watch.check(now_mono=110.0)
    watch.check(now_mono=112.0)
    assert store.get_job(running).locked_by == "dead"
    watch.check(now_mono=113.0)
    assert store.get_job(running).status == "pending"


def test_a_bridge_beats_with_a_time_to_live_and_leaves_on_a_graceful_stop(
    redis_url: str, sqlite_path: Path
) -> None:
    settings = _settings(sqlite_path)
    store = SqliteStore(sqlite_path)
    client = redis.Redis.from_url(redis_url)
    bridge = Bridge(
        settings, store, create_app(settings, redis_url), client, clock=FakeClock(now_ms=T0)
    )
    bridge.stopping.set()  # admission is not under test
    bridge.tick()
    assert client.sismember(keys.BRIDGES, "b1")
    assert 0 < client.pttl(keys.bridge_alive("b1")) <= 3_000
    bridge.shutdown()
    assert not client.exists(keys.bridge_alive("b1"))
    # Still listed: whatever is leased to it is looked after by the others.
    assert client.sismember(keys.BRIDGES, "b1")
