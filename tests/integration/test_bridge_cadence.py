"""The bridge's store work on a busy stack: wake-ups come once per finished job, and each
one must cost no more store writes than claiming needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from bridge.loop import Bridge
from fondation.clock import FakeClock
from fondation.settings import load_settings
from store.records import JobSpec, RepositorySpec
from store.sqlite import SqliteStore
from tasks.worker.app import create_app

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000


class CountingStore(SqliteStore):
    """The real SQLite store, counting the scans for expired leases."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reclaims = 0

    def reclaim_expired(self, now_ms: int, limit: int) -> list[str]:
        self.reclaims += 1
        return super().reclaim_expired(now_ms, limit)


def test_a_bridge_woken_often_reclaims_expired_leases_once_per_poll_interval(
    redis_url: str, sqlite_path: Path
) -> None:
    settings = load_settings(sqlite_path=sqlite_path, poll_interval_ms=5000, worker_id="b1")
    store = CountingStore(sqlite_path)
    repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), T0)
    job, _ = store.create_job(JobSpec(user_id="u", repository_id=repo.id), T0)
    # A lease held by a bridge that died long ago.
    store.claim_batch("dead-bridge", 1, 1_000, T0)
    clock = FakeClock(now_ms=T0 + 60_000)
    bridge = Bridge(
        settings,
        store,
        create_app(settings, redis_url),
        redis.Redis.from_url(redis_url),
        clock=clock,
    )
    # Admission is not under test: nothing is claimed (and nothing sent to Celery).
    bridge.stopping.set()
    bridge.tick()
    assert store.reclaims == 1
    assert store.get_job(job.id).status == "pending"
    for _ in range(20):
        bridge.wake.set()
        bridge.tick()
    assert store.reclaims == 1
    # One poll interval later (the clock moved on, nothing slept), the next tick scans again.
    clock.advance(settings.poll_interval_s)
    bridge.wake.set()
    bridge.tick()
    assert store.reclaims == 2
