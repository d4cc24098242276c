"""The chapters a review step stores as each review ends (tasks/step/publish.py), on the
real SQLite store with outages a test switches on, and a FakeClock for the store's
grace."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analysis.course.artifacts import Chapter
from fondation.cancel import CancelToken
from fondation.clock import FakeClock
from store.records import JobSpec, RepositorySpec
from tasks.step.publish import ChapterPublisher
from tests.support.outage_store import OutageStore

T0 = 1_700_000_000_000
LEASE_MS = 60_000
GRACE_S = 30.0


class Job:
    def __init__(self, store: OutageStore) -> None:
        self.store = store
        repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), T0)
        store.create_job(JobSpec(user_id="u", repository_id=repo.id), T0)
        [claim] = store.claim_batch("b1", 1, LEASE_MS, T0)
        self.id, self.token, self.repository_id = claim.job.id, claim.lease_token, repo.id
        store.begin_step(self.id, self.token, 5, "w", T0)
        self.cancel = CancelToken()
        self.clock = FakeClock(now_ms=T0)

    def publisher(self, total: int = 3) -> ChapterPublisher:
        return ChapterPublisher(
            self.store, self.id, self.token, self.repository_id, total, self.cancel,
            grace_s=GRACE_S, clock=self.clock,
        )  # fmt: skip

    def slugs(self) -> list[str]:
        return [d.slug for d in self.store.get_docs(self.id)]


@pytest.fixture
def job(tmp_path: Path) -> Iterator[Job]:
    store = OutageStore(tmp_path / "jobs.db")
    yield Job(store)
    store.close()


def chapter(index: int, title: str = "", content: str = "Body.\n") -> Chapter:
    return Chapter(
        index=index, abstraction_id=f"a{index}", slug=f"a{index}", title=title or f"A{index}",
        content=content,
    )  # fmt: skip


def test_each_reviewed_chapter_is_stored_with_the_job_running_and_its_count(job: Job) -> None:
    publish = job.publisher()
    publish(chapter(2))
    publish(chapter(1))
    publish.close(store_waiting=True)
    assert sorted(job.slugs()) == ["01-a1", "02-a2"]
    record = job.store.get_job(job.id)
    assert (record.status, record.progress) == ("running", "Chapitres prêts : 2 sur 3")
    assert publish.ready == 2
    assert not job.cancel.is_set


def test_titles_given_by_an_earlier_run_are_kept_and_new_ones_do_not_repeat_them(job: Job) -> None:
    first = job.publisher()
    first(chapter(2, "Overview"))
    first.close(store_waiting=True)
    again = job.publisher()  # the step runs again, its reviews in another order
    again(chapter(1, "Overview"))
    again(chapter(2, "Overview"))
    again.close(store_waiting=True)
    titles = {d.slug: d.title for d in job.store.get_docs(job.id)}
    assert titles == {"01-a1": "Overview (2)", "02-a2": "Overview"}


def test_a_holder_whose_lease_was_lost_stores_nothing_and_its_step_stops(job: Job) -> None:
    job.store.reclaim_expired(T0 + 2 * LEASE_MS, 10)
    job.store.claim_batch("b2", 1, LEASE_MS, T0 + 2 * LEASE_MS)
    publish = job.publisher()
    publish(chapter(1))
    publish.close(store_waiting=True)
    assert job.slugs() == []
    assert job.cancel.is_set
    assert job.cancel.lease_lost
    publish(chapter(2))  # after the loss: not even tried
    assert "publish_chapters" not in job.store.refused


def test_a_requested_cancel_stops_the_step_as_a_cancel(job: Job) -> None:
    job.store.request_cancel(job.id, T0 + 1)
    publish = job.publisher()
    publish(chapter(1))
    publish.close(store_waiting=True)
    assert job.slugs() == []
    assert job.cancel.is_set
    assert not job.cancel.lease_lost


def test_a_chapter_the_store_could_not_take_within_its_grace_is_left_to_the_save(
    job: Job,
) -> None:
    job.store.down = True
    publish = job.publisher()
    publish(chapter(1))
    publish.close(store_waiting=True)
    assert job.store.refused
    assert not job.cancel.is_set  # only late: the step goes on
    job.store.down = False
    assert job.slugs() == []
    assert sum(job.clock.slept) >= 2 * GRACE_S - 10  # given up, then tried again at the end


def test_a_chapter_the_store_refused_is_stored_as_the_step_ends_if_it_is_back(job: Job) -> None:
    job.store.down = True
    publish = job.publisher()
    publish(chapter(1))
    deadline = time.monotonic() + 5
    while publish.late == 0:
        assert time.monotonic() < deadline, "the publisher did not give up within 5 s"
        time.sleep(0.01)
    job.store.down = False
    publish.close(store_waiting=True)
    assert job.slugs() == ["01-a1"]
    assert publish.late == 0


def test_an_empty_chapter_is_never_stored(job: Job) -> None:
    publish = job.publisher()
    publish(chapter(1, content="  \n"))
    publish.close(store_waiting=True)
    assert job.slugs() == []


def test_a_publisher_whose_step_ended_stores_nothing_more(job: Job) -> None:
    publish = job.publisher()
    publish.close(store_waiting=False)
    publish(chapter(1))  # reported after the close
    assert job.slugs() == []
