"""Riding out a store outage inside a step: the real SQLite store made unreachable for a
while, and a ``FakeClock`` whose waits the helper records instead of sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fondation.clock import FakeClock
from fondation.errors import JobNotFound, StoreUnavailable
from store.records import JobRecord, JobSpec, RepositorySpec
from tasks.step.store_retry import retry_store
from tests.support.outage_store import OutageStore

T0 = 1_700_000_000_000


@pytest.fixture
def store(sqlite_path: Path) -> Iterator[OutageStore]:
    s = OutageStore(sqlite_path)
    yield s
    s.close()


def _job(store: OutageStore) -> JobRecord:
    repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), T0)
    return store.create_job(JobSpec(user_id="u", repository_id=repo.id), T0)[0]


def test_a_call_made_during_a_short_outage_returns_once_the_store_answers(
    store: OutageStore,
) -> None:
    job = _job(store)
    clock = FakeClock()
    store.failures_left = 3
    got = retry_store(lambda: store.get_job(job.id), grace_s=60, what="get_job", clock=clock)
    assert got.id == job.id
    assert store.refused == ["get_job"] * 3
    assert clock.slept == [0.2, 0.4, 0.8]  # the backoff doubles


def _waits_through_an_outage(store: OutageStore, grace_s: float) -> list[float]:
    """Retry a read while the store stays down; the waits made before giving up."""
    job = _job(store)
    clock = FakeClock()
    store.down = True
    with pytest.raises(StoreUnavailable):
        retry_store(lambda: store.get_job(job.id), grace_s=grace_s, what="get_job", clock=clock)
    return clock.slept


def test_an_outage_longer_than_the_grace_raises_store_unavailable(store: OutageStore) -> None:
    # 0.2 + 0.4 + 0.8 = 1.4 s waited; one more wait of 1.6 s would pass the grace.
    assert _waits_through_an_outage(store, grace_s=2.0) == [0.2, 0.4, 0.8]
    assert len(store.refused) == 4


def test_the_wait_between_tries_stops_growing_at_five_seconds(store: OutageStore) -> None:
    waits = _waits_through_an_outage(store, grace_s=30.0)
    assert waits == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0]
    assert sum(waits) <= 30.0


def test_an_error_that_is_not_an_outage_is_raised_at_once(store: OutageStore) -> None:
    clock = FakeClock()
    with pytest.raises(JobNotFound):
        retry_store(lambda: store.get_job("no-such-job"), grace_s=60, what="get_job", clock=clock)
    assert clock.slept == []
