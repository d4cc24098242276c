"""The reactive pickup helper against the stand-in: it wakes on new ready work, stays
quiet otherwise, and survives a deployment that fails for a while."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from store.convex import ConvexStore
from store.convex_watch import ReadyWatcher
from store.records import JobSpec, RepositorySpec
from fondation.errors import StoreAuthError
from testbed.convex_standin.fixture import StandIn, make_convex_store

T0 = 1_700_000_000_000


@pytest.fixture
def store(standin: StandIn) -> Iterator[ConvexStore]:
    s = make_convex_store(standin.url, standin.secret, timeout_s=2.0, retries=0)
    yield s
    s.close()


def add_job(store: ConvexStore, now: int = T0) -> str:
    repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), now)
    job, _ = store.create_job(JobSpec(user_id="u", repository_id=repo.id), now)
    return job.id


def test_it_wakes_on_new_ready_work_only(store: ConvexStore) -> None:
    wakes: list[int] = []
    watcher = ReadyWatcher(store, lambda: wakes.append(1), clock_ms=lambda: T0 + 1000)
    assert not watcher.poll_once()
    add_job(store)
    assert watcher.poll_once()
    assert not watcher.poll_once()
    add_job(store)
    assert watcher.poll_once()
    store.claim_batch("b", 10, 60_000, T0 + 1000)
    assert not watcher.poll_once()
    # Not ready yet: created with a runAt in the watcher's future.
    repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), T0)
    store.create_job(JobSpec(user_id="u", repository_id=repo.id, run_at=T0 + 10_000), T0)
    assert not watcher.poll_once()
    assert len(wakes) == 2


def test_the_thread_wakes_the_bridge_within_a_few_intervals(store: ConvexStore) -> None:
    woken = threading.Event()
    watcher = ReadyWatcher(store, woken.set, interval_s=0.05)
    watcher.start()
    try:
        time.sleep(0.2)
        assert not woken.is_set()
        created = time.monotonic()
        add_job(store)
        assert woken.wait(2.0)
        latency_s = time.monotonic() - created
    finally:
        watcher.stop()
    assert latency_s < 1.0
    assert watcher.probes >= 4


def test_it_rides_out_an_overloaded_deployment(store: ConvexStore, standin: StandIn) -> None:
    woken = threading.Event()
    watcher = ReadyWatcher(store, woken.set, interval_s=0.02)
    add_job(store)
    standin.control("503", times=3)
    watcher.start()
    try:
        assert woken.wait(5.0)
    finally:
        watcher.stop()
    # Three probes met the 503s; a later one found the job.
    assert standin.stats()["byPath"]["worker/queue:readyCount"] >= 4


def test_a_refused_secret_stops_the_watcher(standin: StandIn) -> None:
    bad = make_convex_store(standin.url, "wrong", retries=0)
    watcher = ReadyWatcher(bad, lambda: None, interval_s=0.01)
    watcher.start()
    try:
        deadline = time.monotonic() + 5
        while watcher.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
        refused = standin.stats()["byPath"]["worker/queue:readyCount"]
        # Twenty intervals later: a watcher still running would have probed again.
        time.sleep(0.2)
        after = standin.stats()["byPath"]["worker/queue:readyCount"]
    finally:
        watcher.stop()
        bad.close()
    assert isinstance(watcher.error, StoreAuthError)
    assert (refused, after) == (1, 1)
