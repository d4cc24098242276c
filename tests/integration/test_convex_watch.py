"""The bridge's Convex subscription (store/convex_watch.py) against the stand-in, with the
real PyPI client in its own process: it tells of ready jobs, of held jobs ended or asked
to stop, costs nothing while nothing changes, and its supervisor replaces a subscriber
that died or stopped beating."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from fondation.clock import now_ms
from store.convex import ConvexStore
from store.convex.watch import WatchUpdate
from store.convex_watch import ConvexWatch
from store.records import JobSpec, RepositorySpec
from testbed.convex_standin.fixture import OwnStandIn, make_convex_store
from testbed.convex_standin.webapp import WebApp

pytestmark = pytest.mark.timeout(60)


class Updates:
    def __init__(self) -> None:
        self.seen: list[WatchUpdate] = []
        self.changed = threading.Condition()

    def __call__(self, update: WatchUpdate) -> None:
        with self.changed:
            self.seen.append(update)
            self.changed.notify_all()

    def wait_for(self, match: Callable[[WatchUpdate], bool], timeout_s: float = 10) -> WatchUpdate:
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while True:
                for update in self.seen:
                    if match(update):
                        return update
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no matching update in {self.seen[-3:]}")
                self.changed.wait(left)


@pytest.fixture
def store(own_convex_standin: OwnStandIn) -> Iterator[ConvexStore]:
    s = make_convex_store(own_convex_standin.url, own_convex_standin.secret, send_clock=False)
    yield s
    s.close()


def start_watch(
    standin: OwnStandIn, updates: Updates, beat_s: float = 5.0, watchdog_s: float = 20.0
) -> ConvexWatch:
    watch = ConvexWatch(
        standin.url, standin.secret, "bridge-a", updates, beat_s=beat_s, watchdog_s=watchdog_s
    )
    watch.start()
    return watch


def add_job(store: ConvexStore, run_at: int | None = None) -> str:
    now = now_ms()
    repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), now)
    job, _ = store.create_job(JobSpec(user_id="u", repository_id=repo.id, run_at=run_at), now)
    return job.id


def test_it_tells_of_ready_jobs_of_the_next_due_and_of_held_jobs_ended_or_asked_to_stop(
    own_convex_standin: OwnStandIn, store: ConvexStore
) -> None:
    updates = Updates()
    watch = start_watch(own_convex_standin, updates)
    try:
        updates.wait_for(lambda u: u.ready == ())
        assert watch.status().state == "live"
        later = now_ms() + 60_000
        add_job(store, run_at=later)
        updates.wait_for(lambda u: u.next_run_at_ms == later)
        first = add_job(store)
        updates.wait_for(lambda u: u.ready == (first,))
        assert store.claim_batch("bridge-a", 1, 60_000, now_ms())[0].job.id == first
        updates.wait_for(lambda u: u.ready == () and u.next_run_at_ms == later)

        store.request_cancel(first, now_ms())
        updates.wait_for(lambda u: u.cancel_requested == (first,))
        second = add_job(store)
        store.claim_batch("bridge-a", 1, 60_000, now_ms())
        web = WebApp(own_convex_standin.url)
        try:
            web.cancel(second)  # the web's cancel: status written, lease left
        finally:
            web.close()
        update = updates.wait_for(lambda u: second in u.ended)
        assert update.ended[second] == "canceled"
        assert update.concerns({second})
    finally:
        watch.stop()


def test_an_idle_subscription_makes_no_function_call(
    own_convex_standin: OwnStandIn, store: ConvexStore
) -> None:
    updates = Updates()
    watch = start_watch(own_convex_standin, updates, beat_s=0.2, watchdog_s=2.0)
    try:
        updates.wait_for(lambda u: True)
        before = own_convex_standin.standin.stats()["calls"]
        time.sleep(2.0)
        assert own_convex_standin.standin.stats()["calls"] == before
        assert watch.status().restarts == 0
    finally:
        watch.stop()


def test_a_subscriber_that_dies_or_stops_beating_is_replaced_and_subscribes_again(
    own_convex_standin: OwnStandIn, store: ConvexStore
) -> None:
    updates = Updates()
    watch = start_watch(own_convex_standin, updates, beat_s=0.2, watchdog_s=1.5)
    try:
        updates.wait_for(lambda u: True)
        proc = watch._proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGKILL)
        first = add_job(store)
        updates.wait_for(lambda u: u.ready == (first,))
        assert watch.status().restarts == 1

        proc = watch._proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGSTOP)  # alive, silent: only the watchdog sees it
        second = add_job(store)
        updates.wait_for(lambda u: second in u.ready, timeout_s=15)
        assert watch.status().restarts == 2
    finally:
        watch.stop()
