"""The watchdog's turns, driven by the test: the real SQLite store, the real Redis, a
``FakeClock``, and no thread (``threads=False``), so that each turn's decision is seen
alone: a beat, a cancel flag read, a lease renewed, a cancel or a takeover learnt from
the renewal, an outage ridden out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from fondation import keys
from fondation.cancel import CancelToken
from fondation.clock import FakeClock
from store.records import JobSpec, RepositorySpec
from tasks.step.watchdog import Watchdog
from tests.support.outage_store import OutageStore

T0 = 1_700_000_000_000
LEASE_MS = 300_000
LIVENESS_S = 10.0


@dataclass
class Watched:
    watchdog: Watchdog
    store: OutageStore
    client: redis.Redis
    clock: FakeClock
    job_id: str
    token: CancelToken


@pytest.fixture
def w(sqlite_path: Path, redis_url: str) -> Iterator[Watched]:
    """One claimed job whose step is being watched, at T0 + 60 s."""
    store = OutageStore(sqlite_path)
    client = redis.Redis.from_url(redis_url)
    clock = FakeClock(now_ms=T0)
    repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), T0)
    store.create_job(JobSpec(user_id="u", repository_id=repo.id), T0)
    [claim] = store.claim_batch("b1", 1, LEASE_MS, T0)
    watchdog = Watchdog(
        store=store, redis_client=client, lease_ms=LEASE_MS, liveness_interval_s=LIVENESS_S,
        heartbeat_interval_s=30.0, clock=clock, threads=False,
    )  # fmt: skip
    cancel = CancelToken()
    clock.advance(60)
    with watchdog.watch(claim.job.id, claim.lease_token, cancel):
        yield Watched(watchdog, store, client, clock, claim.job.id, cancel)
    client.close()
    store.close()


def test_a_beat_turn_marks_the_step_alive_for_three_liveness_intervals(w: Watched) -> None:
    w.watchdog.beat_turn()
    assert 0 < w.client.pttl(keys.step_beat(w.job_id)) <= LIVENESS_S * 3 * 1000
    assert not w.token.is_set


def test_a_cancel_flag_set_by_a_bridge_stops_the_step_at_the_next_beat(w: Watched) -> None:
    w.client.set(keys.cancel_flag(w.job_id), "1")
    w.watchdog.beat_turn()
    assert (w.token.is_set, w.token.reason, w.token.lease_lost) == (True, "canceled", False)


def test_a_renewal_extends_the_lease_from_the_clocks_now(w: Watched) -> None:
    w.watchdog.renew_turn()
    assert w.store.get_job(w.job_id).lease_until == T0 + 60_000 + LEASE_MS
    assert not w.token.is_set


def test_a_cancel_requested_in_the_store_stops_the_step_at_the_next_renewal(w: Watched) -> None:
    w.store.request_cancel(w.job_id, w.clock.now_ms())
    w.watchdog.beat_turn()
    assert not w.token.is_set  # the store's cancel is learnt from the renewal, not the beat
    w.watchdog.renew_turn()
    assert (w.token.is_set, w.token.lease_lost) == (True, False)


def test_a_renewal_refused_by_the_fence_stops_the_step_as_a_lost_lease(w: Watched) -> None:
    later_ms = w.clock.now_ms() + 2 * LEASE_MS
    w.store.reclaim_expired(later_ms, 10)
    w.store.claim_batch("b2", 1, LEASE_MS, later_ms)
    w.watchdog.renew_turn()
    assert (w.token.is_set, w.token.lease_lost) == (True, True)


def test_a_store_outage_at_renewal_lets_the_step_go_on_and_the_next_renewal_counts(
    w: Watched,
) -> None:
    w.store.down = True
    w.watchdog.renew_turn()
    assert w.store.refused == ["renew"]
    assert not w.token.is_set
    w.store.down = False
    w.clock.advance(30)
    w.watchdog.renew_turn()
    assert w.store.get_job(w.job_id).lease_until == T0 + 90_000 + LEASE_MS


def test_a_step_that_ended_is_no_longer_watched(w: Watched) -> None:
    ended = CancelToken()
    with w.watchdog.watch(w.job_id, "an earlier attempt's token", ended):
        pass
    w.client.set(keys.cancel_flag(w.job_id), "1")
    w.watchdog.beat_turn()
    w.watchdog.renew_turn()
    assert w.token.is_set
    assert not ended.is_set  # while watched, both the flag and the fence would trip it
