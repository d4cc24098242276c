"""Each decision of one step, in process: the real SQLite store, the real Redis, a real
engine (the benchmark's, which clones without git), a watchdog whose turns the test runs
(``threads=False``) and a ``FakeClock``. What the Celery task would do with the outcome is
read from what ``StepRun.run`` returns or raises: returning lets the chain go on,
``Ignore`` stops it quietly, any other exception fails the delivery."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from celery.exceptions import Ignore

from analysis.course.artifacts import (
    AbstractionsArtifact,
    Chapter,
    ChaptersArtifact,
    ReviewArtifact,
)
from analysis.engine import StepContext
from bench.engine import FixedTimeCloneEngine
from checkout.github_token import CloneCredentials
from checkout.workspace import Workspace
from fondation import keys
from fondation.clock import FakeClock
from fondation.errors import MalformedJob, StoreUnavailable, WorkDeferred
from fondation.settings import load_settings
from store.backoff import backoff_ms
from store.records import DocSpec, JobRecord, JobSpec, RepositorySpec
from tasks.step.runtime import WorkerRuntime
from tasks.step.steps import StepRun
from tasks.step.watchdog import Watchdog
from tests.support.outage_store import OutageStore

T0 = 1_700_000_000_000
MAX_DELIVERIES = 3
GRACE_S = 60.0
EXTRACT = 1  # the step under test: the first analysis step


class HookedEngine(FixedTimeCloneEngine):
    """The benchmark's engine, with a moment inside its first analysis step where the test
    acts (cancels, takes the job over, cuts the store) as another party would."""

    def __init__(self) -> None:
        self.during: Callable[[StepContext], None] | None = None
        self.during_review: Callable[[StepContext, Chapter], None] | None = None
        self.before_report: Callable[[StepContext, Chapter], None] | None = None
        self.runs = 0

    def extract_abstractions(self, ctx: StepContext) -> AbstractionsArtifact:
        self.runs += 1
        if self.during is not None:
            self.during(ctx)
        return super().extract_abstractions(ctx)

    def generate_chapters(self, ctx: StepContext) -> ChaptersArtifact:
        drafts = [
            Chapter(index=i, abstraction_id=f"a{i}", slug=f"a{i}", title=f"A{i}", content="x\n")
            for i in (1, 2)
        ]
        return ChaptersArtifact(chapters=drafts)

    def review_chapters(self, ctx: StepContext) -> ReviewArtifact:
        """Each chapter: ``before_report``, reported as reviewed, ``during_review``."""
        for chapter in ctx.need_chapters().chapters:
            if self.before_report is not None:
                self.before_report(ctx, chapter)
            ctx.chapter_reviewed(chapter)
            if self.during_review is not None:
                self.during_review(ctx, chapter)
        ctx.cancel.check()
        return super().review_chapters(ctx)


@dataclass
class Rig:
    rt: WorkerRuntime
    store: OutageStore
    engine: HookedEngine
    job_id: str
    token: str
    clock: FakeClock = field(default_factory=lambda: FakeClock(now_ms=T0))

    def run(self, step: int, *, redelivered: bool = False) -> None:
        run = StepRun(self.rt, self.job_id, self.token, step, clock=self.clock)
        run.run(redelivered=redelivered)

    def step_status(self, step: int) -> str | None:
        found = [s.status for s in self.store.get_steps(self.job_id) if s.step == step]
        return found[0] if found else None

    def logs(self) -> list[str]:
        return [entry.msg for entry in self.store.get_logs(self.job_id)]

    def take_over(self) -> None:
        """Another bridge, b2, claims the job once its lease has expired."""
        later_ms = self.clock.now_ms() + 2 * self.rt.settings.lease_ms
        self.store.reclaim_expired(later_ms, 10)
        assert self.store.claim_batch("b2", 1, self.rt.settings.lease_ms, later_ms)


@pytest.fixture
def rig(tmp_path: Path, sqlite_path: Path, redis_url: str) -> Iterator[Rig]:
    """A job claimed by bridge b1 and cloned: step 1 is next."""
    settings = load_settings(
        sqlite_path=sqlite_path, temp_dir=tmp_path / "work", max_deliveries=MAX_DELIVERIES,
        store_outage_grace_s=GRACE_S,
    )  # fmt: skip
    store = OutageStore(sqlite_path)
    client = redis.Redis.from_url(redis_url)
    clock = FakeClock(now_ms=T0)
    engine = HookedEngine()
    watchdog = Watchdog(
        store=store, redis_client=client, lease_ms=settings.lease_ms,
        liveness_interval_s=settings.worker_liveness_interval_s,
        heartbeat_interval_s=settings.heartbeat_interval_s, clock=clock, threads=False,
    )  # fmt: skip
    rt = WorkerRuntime(
        settings=settings, redis_url=redis_url, store=store, redis=client, engine=engine,
        workspace=Workspace(settings.temp_dir, owner_pid=os.getpid()), watchdog=watchdog,
        credentials=CloneCredentials.from_settings(settings),
    )  # fmt: skip
    repo = store.upsert_repository(RepositorySpec(user_id="u", name="d", full_name="o/d"), T0)
    store.create_job(JobSpec(user_id="u", repository_id=repo.id), T0)
    [claim] = store.claim_batch("b1", 1, settings.lease_ms, T0)
    rig = Rig(rt, store, engine, claim.job.id, claim.lease_token, clock)
    rig.run(0)
    yield rig
    client.close()
    store.close()


# --- a step runs once ---------------------------------------------------------------------


def test_a_step_stores_its_artifact_and_lets_the_chain_go_on(rig: Rig) -> None:
    rig.run(EXTRACT)
    assert rig.step_status(EXTRACT) == "completed"
    assert rig.engine.runs == 1


def test_a_second_delivery_of_a_done_step_is_skipped_and_lets_the_chain_go_on(rig: Rig) -> None:
    rig.run(EXTRACT)
    rig.run(EXTRACT)  # its first run died before it sent the rest of the chain
    assert rig.engine.runs == 1


def test_a_delivery_of_a_done_step_whose_chain_moved_on_stops_quietly(rig: Rig) -> None:
    rig.run(EXTRACT)
    rig.store.begin_step(rig.job_id, rig.token, EXTRACT + 1, "w2", rig.clock.now_ms())
    with pytest.raises(Ignore):
        rig.run(EXTRACT, redelivered=True)
    assert rig.engine.runs == 1


# --- the redelivery cap ---------------------------------------------------------------


def _redelivered_before(rig: Rig, times: int) -> None:
    """The step's earlier deliveries killed their workers ``times`` times."""
    rig.rt.redis.set(keys.deliveries(rig.job_id, rig.token, EXTRACT), times)


def test_a_step_redelivered_up_to_the_cap_runs(rig: Rig) -> None:
    _redelivered_before(rig, MAX_DELIVERIES - 2)
    rig.run(EXTRACT, redelivered=True)  # its delivery number MAX_DELIVERIES
    assert rig.step_status(EXTRACT) == "completed"


def test_a_step_redelivered_past_the_cap_fails_the_attempt_as_a_poison_job(rig: Rig) -> None:
    _redelivered_before(rig, MAX_DELIVERIES - 1)
    with pytest.raises(Ignore):
        rig.run(EXTRACT, redelivered=True)
    assert rig.engine.runs == 0
    job = rig.store.get_job(rig.job_id)
    assert (job.status, job.attempts, job.locked_by) == ("pending", 1, None)
    assert f"was delivered {MAX_DELIVERIES + 1} times" in (job.last_error or "")
    # The retry waits its backoff from the step's clock.
    assert (job.run_at or 0) >= rig.clock.now_ms() + backoff_ms(1)


# --- cancel at each point ---------------------------------------------------------------


def _assert_canceled_without_artifact(rig: Rig) -> None:
    assert rig.store.get_job(rig.job_id).status == "canceled"
    assert rig.step_status(EXTRACT) != "completed"
    assert rig.logs()[-1] == "Canceled during Extracting abstractions"


def test_a_step_of_a_job_canceled_before_it_started_cancels_it_without_working(rig: Rig) -> None:
    rig.store.request_cancel(rig.job_id, rig.clock.now_ms())
    with pytest.raises(Ignore):
        rig.run(EXTRACT)
    assert rig.engine.runs == 0
    _assert_canceled_without_artifact(rig)


def test_a_redelivered_step_whose_cancel_flag_is_set_stores_nothing(rig: Rig) -> None:
    rig.rt.redis.set(keys.cancel_flag(rig.job_id), "1")  # set by the bridge's cancel
    with pytest.raises(Ignore):
        rig.run(EXTRACT, redelivered=True)
    _assert_canceled_without_artifact(rig)


def test_a_cancel_during_the_work_stops_the_engine_at_its_next_check(rig: Rig) -> None:
    reached: list[str] = []

    def cancel_then_check(ctx: StepContext) -> None:
        rig.store.request_cancel(rig.job_id, rig.clock.now_ms())
        rig.rt.watchdog.renew_turn()  # the renewal learns of the cancel
        ctx.cancel.check()
        reached.append("past the check")

    rig.engine.during = cancel_then_check
    with pytest.raises(Ignore):
        rig.run(EXTRACT)
    assert reached == []
    _assert_canceled_without_artifact(rig)


def test_a_cancel_that_arrives_as_the_work_ends_keeps_its_artifact_out(rig: Rig) -> None:
    def cancel(ctx: StepContext) -> None:
        rig.rt.redis.set(keys.cancel_flag(rig.job_id), "1")
        rig.rt.watchdog.beat_turn()  # the beat reads the flag; the engine does not check

    rig.engine.during = cancel
    with pytest.raises(Ignore):
        rig.run(EXTRACT)
    assert rig.engine.runs == 1
    _assert_canceled_without_artifact(rig)


# --- the lease lost ---------------------------------------------------------------------


def _assert_abandoned(rig: Rig) -> None:
    job = rig.store.get_job(rig.job_id)
    assert (job.status, job.locked_by) == ("claimed", "b2")  # the new holder's, untouched
    assert rig.step_status(EXTRACT) != "completed"
    assert not any(msg.startswith("Canceled") for msg in rig.logs())


def test_a_lease_lost_during_the_work_stops_the_step_and_leaves_the_job_alone(rig: Rig) -> None:
    def lose_lease(ctx: StepContext) -> None:
        rig.take_over()
        rig.rt.watchdog.renew_turn()  # the fence refuses the renewal
        ctx.cancel.check()

    rig.engine.during = lose_lease
    with pytest.raises(Ignore):
        rig.run(EXTRACT)
    _assert_abandoned(rig)


def test_a_step_whose_lease_was_taken_while_it_worked_stores_nothing(rig: Rig) -> None:
    rig.engine.during = lambda ctx: rig.take_over()  # no renewal came in between
    with pytest.raises(Ignore):
        rig.run(EXTRACT)
    assert rig.engine.runs == 1
    _assert_abandoned(rig)


# --- chapters stored as their reviews end ----------------------------------------------

REVIEW, SAVE = 5, 7


def _wait_for(check: Callable[[], bool]) -> None:
    """The publisher's thread is real: wait for it in real time, briefly."""
    deadline = time.monotonic() + 5
    while not check():
        assert time.monotonic() < deadline, "the publisher did not act within 5 s"
        time.sleep(0.01)


def test_each_chapter_is_stored_before_the_review_step_ends_and_the_save_adds_the_rest(
    rig: Rig,
) -> None:
    for step in range(1, REVIEW):
        rig.run(step)
    shown: list[list[str]] = []

    def read_it(ctx: StepContext, chapter: Chapter) -> None:
        slug = f"{chapter.index:02d}-{chapter.slug}"
        _wait_for(lambda: slug in [d.slug for d in rig.store.get_docs(rig.job_id)])
        shown.append([d.slug for d in rig.store.get_docs(rig.job_id)])

    rig.engine.during_review = read_it
    rig.run(REVIEW)
    assert shown == [["01-a1"], ["01-a1", "02-a2"]]
    assert rig.store.get_job(rig.job_id).status == "running"
    early = {d.slug: d for d in rig.store.get_docs(rig.job_id)}
    rig.run(6)
    rig.run(SAVE)
    job = rig.store.get_job(rig.job_id)
    docs = rig.store.get_docs(rig.job_id)
    assert job.status == "completed"
    assert job.docs_count == len(docs) == len({(d.kind, d.title.lower()) for d in docs})
    # The save did not write the chapters again.
    assert {d.slug: (d.created_at, d.updated_at) for d in docs if d.kind == "chapter"} == {
        slug: (d.created_at, d.updated_at) for slug, d in early.items()
    }


def test_the_save_removes_a_chapter_doc_an_earlier_run_stored_that_the_course_lacks(
    rig: Rig,
) -> None:
    for step in range(1, 7):
        rig.run(step)
    # An earlier run stored chapter 1 whole; the course now has it (say) in parts.
    stale = DocSpec(slug="01-a1-old", title="A1", chapter_index=1, kind="chapter", content="o")
    rig.store.publish_chapters(rig.job_id, rig.token, [stale], 1, 2, rig.clock.now_ms())
    rig.run(SAVE)
    docs = rig.store.get_docs(rig.job_id)
    assert "01-a1-old" not in [d.slug for d in docs]
    assert rig.store.get_job(rig.job_id).docs_count == len(docs)


def test_a_review_step_whose_lease_was_taken_stores_no_chapter_and_stops(rig: Rig) -> None:
    for step in range(1, REVIEW):
        rig.run(step)
    taken: list[int] = []

    def take_over_first(ctx: StepContext, chapter: Chapter) -> None:
        if not taken:
            taken.append(chapter.index)
            rig.take_over()

    rig.engine.before_report = take_over_first
    rig.engine.during_review = lambda ctx, chapter: _wait_for(lambda: ctx.cancel.is_set)
    with pytest.raises(Ignore):
        rig.run(REVIEW)
    assert rig.store.get_docs(rig.job_id) == []
    assert rig.step_status(REVIEW) == "started"


# --- failures and store outages ---------------------------------------------------------


def _work_raises(rig: Rig, exc: Exception) -> JobRecord:
    """Run the step with an engine that raises ``exc``; the job as the failure left it."""

    def fail(ctx: StepContext) -> None:
        raise exc

    rig.engine.during = fail
    with pytest.raises(type(exc)):
        rig.run(EXTRACT)
    return rig.store.get_job(rig.job_id)


def test_a_transient_failure_of_the_work_retries_the_job_with_backoff(rig: Rig) -> None:
    job = _work_raises(rig, RuntimeError("the engine tripped"))
    assert (job.status, job.attempts) == ("pending", 1)
    assert job.last_error == "RuntimeError: the engine tripped"


def test_a_permanent_failure_of_the_work_fails_the_job_for_good(rig: Rig) -> None:
    job = _work_raises(rig, MalformedJob("the repository has nothing to read"))
    assert (job.status, job.error) == ("failed", "the repository has nothing to read")


def test_a_store_outage_at_the_start_of_a_step_is_ridden_out(rig: Rig) -> None:
    rig.store.failures_left = 2
    rig.run(EXTRACT)
    assert rig.store.refused == ["begin_step", "begin_step"]
    assert rig.clock.slept == [0.2, 0.4]
    assert rig.step_status(EXTRACT) == "completed"


def test_a_store_outage_as_the_artifact_is_stored_is_ridden_out(rig: Rig) -> None:
    def cut_the_store(ctx: StepContext) -> None:
        rig.store.failures_left = 3

    rig.engine.during = cut_the_store
    rig.run(EXTRACT)
    assert rig.store.refused == ["finish_step"] * 3
    assert rig.step_status(EXTRACT) == "completed"


def test_an_outage_longer_than_the_grace_fails_the_delivery_and_leaves_the_job_held(
    rig: Rig,
) -> None:
    def cut_the_store(ctx: StepContext) -> None:
        rig.store.down = True

    rig.engine.during = cut_the_store
    with pytest.raises(StoreUnavailable):
        rig.run(EXTRACT)
    # The finish, then the record of its failure, were each tried for the whole grace:
    # 16 tries 56.2 s apart in all, the next wait of 5 s would have passed 60 s.
    assert rig.store.refused == ["finish_step"] * 16 + ["fail"] * 16
    assert sum(rig.clock.slept) == pytest.approx(2 * 56.2)
    rig.store.down = False
    job = rig.store.get_job(rig.job_id)
    # Still b1's: its bridge sees no work and retries it (lost work).
    assert (job.status, job.locked_by, job.attempts) == ("analyzing", "b1", 0)
    assert rig.step_status(EXTRACT) != "completed"


# --- a step that must wait for a limit the fleet shares ------------------------------------


def test_a_step_deferred_by_a_shared_limit_gives_its_job_back_without_spending_an_attempt(
    rig: Rig,
) -> None:
    until = T0 + 3_600_000  # 23:13 UTC, 00:13 in Paris
    seen: list[StepContext] = []

    def limited(ctx: StepContext) -> None:
        seen.append(ctx)
        raise WorkDeferred("usage limit", reason="usage_limit", until_ms=until, until_known=True)

    rig.engine.during = limited
    with pytest.raises(Ignore):
        rig.run(EXTRACT)
    job = rig.store.get_job(rig.job_id)
    assert (job.status, job.attempts, job.lease_token) == ("pending", 0, None)
    assert (
        job.progress == "En attente : limite d'utilisation de Claude atteinte, reprise vers 00:13"
    )
    assert rig.store.claim_batch("b1", 1, rig.rt.settings.lease_ms, until - 1) == []
    assert rig.store.claim_batch("b1", 1, rig.rt.settings.lease_ms, until)
    # The engine was given what a fleet-wide limit needs: the job's user and the Redis.
    assert seen[0].user_id == "u"
    assert seen[0].redis is rig.rt.redis
    assert any("Waiting 3600 s for Claude (usage_limit)" in line for line in rig.logs())
    # The checkout stays for the rerun.
    assert rig.rt.workspace.checkout_dir(rig.job_id).exists()
