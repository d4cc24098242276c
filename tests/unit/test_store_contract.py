"""The JobStore contract. Every test runs unchanged against each store (``store``
fixture); the clock is a parameter, so leases expire without sleeping."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest

from fondation.errors import CancelRequested, JobNotFound, LeaseLost, MalformedJob
from fondation.steps import STEP_NAMES
from store.backoff import backoff_ms
from store.base import JobStore
from store.progress import Language, Moment, moment_text, step_log_line, step_progress
from store.records import (
    RETRYABLE_STATUSES,
    DocSpec,
    JobSpec,
    JobStatus,
    RepositoryRecord,
    RepositorySpec,
)
from store.sqlite import SqliteStore
from testbed.convex_standin.webapp import WebApp

T0 = 1_700_000_000_000
LEASE = 60_000

STORES = ["sqlite", "convex"]


def open_store(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, **options: Any
) -> JobStore:
    if kind == "sqlite":
        return SqliteStore(tmp_path / "jobs.db", **options)
    store: JobStore = request.getfixturevalue("convex_store_factory")(**options)
    return store


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    s = open_store(request, tmp_path, request.param)
    yield s
    s.close()


def new_job(store: JobStore, now: int = T0, **kw: object) -> str:
    repo = store.upsert_repository(
        RepositorySpec(user_id="u1", name="demo", full_name="octo/demo"), now
    )
    job, created = store.create_job(JobSpec(user_id="u1", repository_id=repo.id, **kw), now)
    assert created
    return job.id


def web_users_repository(store: JobStore) -> RepositoryRecord:
    """A repository row as a web user holds it (made here through the store's own call,
    by a user of another id)."""
    return store.upsert_repository(
        RepositorySpec(
            user_id="web-user", github_repo_id="1296269", name="demo", full_name="octo/demo",
            description="The web user's", default_branch="trunk",
        ),
        T0,
    )  # fmt: skip


@pytest.mark.parametrize(
    "clone_url",
    [
        "https://github.com/octo/demo",
        "https://github.com/octo/demo.git",
        "https://GitHub.com/octo/demo/",
        None,
    ],
)
def test_a_submission_of_a_repository_a_web_user_holds_uses_that_row_unchanged(
    store: JobStore, clone_url: str | None
) -> None:
    web = web_users_repository(store)
    cli = RepositorySpec(user_id="local", name="demo", full_name="octo/demo", clone_url=clone_url)
    for n in range(2):  # and again: still the one row
        assert store.upsert_repository(cli, T0 + 1 + n) == web
    # The job is the repository owner's: the web user sees it, and it clones with the
    # web user's token.
    job, _ = store.create_job(JobSpec(user_id="local", repository_id=web.id), T0 + 3)
    assert job.user_id == web.user_id
    assert store.get_repository(web.id) == web


def test_a_repository_of_the_same_name_from_another_source_gets_a_row_of_its_own(
    store: JobStore,
) -> None:
    web = web_users_repository(store)
    elsewhere = RepositorySpec(
        user_id="local",
        name="demo",
        full_name="octo/demo",
        clone_url="https://gitlab.com/octo/demo",
    )
    own = store.upsert_repository(elsewhere, T0 + 1)
    assert own.id != web.id
    assert own.clone_url == "https://gitlab.com/octo/demo"
    assert store.upsert_repository(elsewhere, T0 + 2).id == own.id
    assert store.get_repository(web.id) == web


def test_the_oldest_row_of_a_name_is_the_one_a_submission_uses(store: JobStore) -> None:
    first = web_users_repository(store)
    second = store.upsert_repository(
        RepositorySpec(user_id="other-web-user", name="demo", full_name="octo/demo"), T0 + 1
    )
    assert second.id == first.id  # a second user's submission reuses it too
    cli = RepositorySpec(user_id="local", name="demo", full_name="octo/demo")
    assert store.upsert_repository(cli, T0 + 2).id == first.id


def claim_one(store: JobStore, now: int = T0, owner: str = "b1") -> tuple[str, str]:
    claims = store.claim_batch(owner, 1, LEASE, now)
    assert len(claims) == 1
    return claims[0].job.id, claims[0].lease_token


def test_a_new_job_is_pending_with_the_web_apps_fields(store: JobStore) -> None:
    job = store.get_job(new_job(store))
    assert job.status == "pending"
    assert job.attempts == 0
    assert job.max_attempts == 5
    assert job.total_steps == 6
    wire = job.to_wire()
    assert {"userId", "repositoryId", "status", "createdAt", "attempts"} <= wire.keys()


def test_dedupe_key_returns_the_live_job(store: JobStore) -> None:
    first = new_job(store, dedupe_key="k1")
    repo_id = store.get_job(first).repository_id
    again, created = store.create_job(
        JobSpec(user_id="u1", repository_id=repo_id, dedupe_key="k1"), T0 + 1
    )
    assert not created
    assert again.id == first


def test_dedupe_key_of_a_finished_job_is_free_again(store: JobStore) -> None:
    first = new_job(store, dedupe_key="k2")
    store.request_cancel(first, T0 + 1)
    repo_id = store.get_job(first).repository_id
    second, created = store.create_job(
        JobSpec(user_id="u1", repository_id=repo_id, dedupe_key="k2"), T0 + 2
    )
    assert created
    assert second.id != first


def test_claim_takes_ready_jobs_oldest_first_each_with_its_own_token(store: JobStore) -> None:
    ids = [new_job(store, now=T0 + i) for i in range(3)]
    later = new_job(store, now=T0, run_at=T0 + 10_000)
    claims = store.claim_batch("b1", 10, LEASE, T0 + 5)
    assert [c.job.id for c in claims] == ids
    assert len({c.lease_token for c in claims}) == 3
    assert all(c.job.status == "claimed" and c.job.locked_by == "b1" for c in claims)
    assert store.get_job(later).status == "pending"


def test_claim_respects_the_limit(store: JobStore) -> None:
    for i in range(5):
        new_job(store, now=T0 + i)
    assert len(store.claim_batch("b1", 2, LEASE, T0 + 10)) == 2
    assert len(store.claim_batch("b2", 10, LEASE, T0 + 10)) == 3
    assert store.claim_batch("b3", 10, LEASE, T0 + 10) == []


def test_concurrent_claimers_never_receive_the_same_job(store: JobStore) -> None:
    # On SQLite this is a real race: each thread has its own connection, and only the
    # claim's BEGIN IMMEDIATE keeps two of them from leasing one job (separate
    # processes: tests/integration/test_sqlite_claim_race.py). On the Convex stand-in
    # it cannot fail: convex-test runs one transaction at a time, so the claims are
    # served in turn and only the client's thread safety is tested. What protects a
    # real deployment is that claimBatch is one serializable mutation: Convex's
    # optimistic concurrency control aborts and reruns a claim whose read of the
    # pending jobs was overwritten by another claim's commit, and no test here can
    # make a deployment's transactions overlap.
    for i in range(20):
        new_job(store, now=T0 + i)
    got: list[list[str]] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        mine = []
        for _ in range(10):
            mine += [c.job.id for c in store.claim_batch(name, 2, LEASE, T0 + 100)]
        with lock:
            got.append(mine)

    threads = [threading.Thread(target=claimer, args=(f"b{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [j for mine in got for j in mine]
    assert len(flat) == 20
    assert len(set(flat)) == 20


def test_only_the_token_holder_may_renew(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    state = store.renew(job_id, token, LEASE, T0 + 1000)
    assert state.lease_until == T0 + 1000 + LEASE
    with pytest.raises(LeaseLost):
        store.renew(job_id, "not-the-token", LEASE, T0 + 1000)


def test_a_writer_whose_lease_was_taken_over_is_fenced_off(store: JobStore) -> None:
    new_job(store)
    job_id, old = claim_one(store)
    assert store.reclaim_expired(T0 + LEASE + 1, 10) == [job_id]
    _, new = claim_one(store, now=T0 + LEASE + 2, owner="b2")
    assert new != old
    with pytest.raises(LeaseLost):
        store.begin_step(job_id, old, 1, "w", T0 + LEASE + 3)
    with pytest.raises(LeaseLost):
        store.finish_step(job_id, old, 1, "{}", T0 + LEASE + 3)
    with pytest.raises(LeaseLost):
        store.complete(job_id, old, {"success": True}, 0, T0 + LEASE + 3)
    with pytest.raises(LeaseLost):
        store.fail(job_id, old, "x", False, T0 + LEASE + 3, 0)
    with pytest.raises(LeaseLost):
        store.upsert_docs(job_id, old, [], T0 + LEASE + 3)
    store.begin_step(job_id, new, 1, "w", T0 + LEASE + 4)


def test_reclaim_returns_only_expired_leases_in_bounded_batches(store: JobStore) -> None:
    for i in range(5):
        new_job(store, now=T0 + i)
    store.claim_batch("b1", 5, LEASE, T0 + 10)
    assert store.reclaim_expired(T0 + LEASE, 10) == []
    first = store.reclaim_expired(T0 + LEASE + 11, 2)
    second = store.reclaim_expired(T0 + LEASE + 11, 10)
    assert len(first) == 2
    assert len(second) == 3
    assert all(store.get_job(j).status == "pending" for j in first + second)


def test_backoff_schedule_doubles_from_five_seconds_to_ten_minutes() -> None:
    assert [backoff_ms(n) for n in range(1, 10)] == [
        5_000,
        10_000,
        20_000,
        40_000,
        80_000,
        160_000,
        320_000,
        600_000,
        600_000,
    ]
    assert backoff_ms(10_000) == 600_000


def test_a_transient_failure_retries_after_the_backoff_plus_jitter(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    job = store.fail(job_id, token, "network down", False, T0 + 100, 1234)
    assert job.status == "pending"
    assert job.attempts == 1
    assert job.run_at == T0 + 100 + 5_000 + 1234
    assert job.last_error == "network down"
    assert job.locked_by is None
    assert store.claim_batch("b1", 1, LEASE, T0 + 5_000) == []
    assert len(store.claim_batch("b1", 1, LEASE, T0 + 100 + 6_234)) == 1


def test_a_job_is_dead_after_max_attempts(store: JobStore) -> None:
    new_job(store, max_attempts=3)
    now = T0
    for attempt in range(1, 4):
        now += 700_000
        job_id, token = claim_one(store, now=now)
        job = store.fail(job_id, token, f"boom {attempt}", False, now, 0)
        assert job.attempts == attempt
    assert job.status == "dead"
    assert store.claim_batch("b1", 1, LEASE, now + 10**9) == []


def test_a_permanent_failure_is_final_at_once(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    job = store.fail(job_id, token, "bad URL", True, T0 + 1, 0)
    assert job.status == "failed"
    assert job.error == "bad URL"
    assert store.claim_batch("b1", 1, LEASE, T0 + 10**9) == []


def test_canceling_a_pending_job_is_immediate(store: JobStore) -> None:
    job_id = new_job(store)
    assert store.request_cancel(job_id, T0 + 1).status == "canceled"
    assert store.claim_batch("b1", 1, LEASE, T0 + 2) == []


def test_a_canceled_job_is_never_resurrected(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    job = store.request_cancel(job_id, T0 + 1)
    assert job.status == "claimed"
    assert job.cancel_requested
    assert store.renew(job_id, token, LEASE, T0 + 2).cancel_requested
    store.mark_canceled(job_id, token, T0 + 3)
    for write in (
        lambda: store.renew(job_id, token, LEASE, T0 + 4),
        lambda: store.begin_step(job_id, token, 2, "w", T0 + 4),
        lambda: store.complete(job_id, token, {"success": True}, 0, T0 + 4),
        lambda: store.fail(job_id, token, "x", False, T0 + 4, 0),
        lambda: store.release(job_id, token, T0 + 4, "x"),
    ):
        with pytest.raises(LeaseLost):
            write()
    assert store.reclaim_expired(T0 + 10 * LEASE, 10) == []
    assert store.get_job(job_id).status == "canceled"


def test_steps_record_progress_and_skip_when_completed(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    rec = store.begin_step(job_id, token, 3, "w1", T0 + 1).step
    assert rec.status == "started"
    assert rec.runs == 1
    job = store.get_job(job_id)
    assert job.status == "analyzing"
    assert job.progress == "Étape 3/6: Détermination de l'ordre optimal des chapitres"
    assert job.current_step == 3
    assert store.begin_step(job_id, token, 3, "w2", T0 + 2).step.runs == 2
    store.finish_step(job_id, token, 3, '{"order": ["a"]}', T0 + 3)
    store.finish_step(job_id, token, 3, '{"order": ["a"]}', T0 + 4)
    logs = len(store.get_logs(job_id))
    again = store.begin_step(job_id, token, 3, "w3", T0 + 5)
    assert again.step.status == "completed"
    assert again.step.artifact == '{"order": ["a"]}'
    # A completed step is only read: no run counted, no progress or log line written.
    assert len(store.get_logs(job_id)) == logs
    assert again.job.updated_at == store.get_job(job_id).updated_at == T0 + 4
    steps = store.get_steps(job_id)
    assert [(s.step, s.status, s.runs) for s in steps] == [(3, "completed", 2)]


def test_a_step_start_returns_the_job_its_repository_and_every_step(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    store.begin_step(job_id, token, 0, "w", T0 + 1)
    store.finish_step(job_id, token, 0, '{"commit": "c"}', T0 + 2)
    start = store.begin_step(job_id, token, 1, "w", T0 + 3)
    assert start.job == store.get_job(job_id)
    assert start.job.status == "analyzing"
    assert start.job.current_step == 1
    assert start.job.progress == "Étape 1/6: Extraction des abstractions principales"
    assert start.repository == store.get_repository(start.job.repository_id)
    assert start.steps == store.get_steps(job_id)
    assert [(s.step, s.status, s.artifact) for s in start.steps] == [
        (0, "completed", '{"commit": "c"}'),
        (1, "started", None),
    ]
    assert start.step == start.steps[1]
    assert start.later_steps() == []
    assert store.begin_step(job_id, token, 0, "w", T0 + 4).later_steps() == [1]


def test_an_artifact_larger_than_a_convex_document_round_trips(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    # 2.5 MB of three-byte characters: on Convex three pieces, each cut between characters.
    big = json.dumps({"content": "\u2603" * 850_000}, ensure_ascii=False)
    store.begin_step(job_id, token, 4, "w", T0 + 1)
    store.finish_step(job_id, token, 4, big, T0 + 2)
    assert store.get_steps(job_id)[0].artifact == big
    start = store.begin_step(job_id, token, 5, "w", T0 + 3)
    assert [(s.step, s.artifact) for s in start.steps] == [(4, big), (5, None)]
    # A later run of the step stores a small artifact in place of the large one.
    store.finish_step(job_id, token, 4, "{}", T0 + 4)
    assert store.get_steps(job_id)[0].artifact == "{}"


def test_step_states_are_the_step_records_without_their_artifacts(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    big = json.dumps({"content": "x" * 2_000_000})
    store.begin_step(job_id, token, 4, "w", T0 + 1)
    store.finish_step(job_id, token, 4, big, T0 + 2, usage='{"cost_usd": 0.5}')
    store.begin_step(job_id, token, 5, "w", T0 + 3)
    states = store.step_states(job_id)
    records = store.get_steps(job_id)
    assert [s.model_dump() for s in states] == [r.model_dump(exclude={"artifact"}) for r in records]
    assert [(s.step, s.status, s.usage) for s in states] == [
        (4, "completed", '{"cost_usd": 0.5}'),
        (5, "started", None),
    ]
    assert not hasattr(states[0], "artifact")


def test_each_step_shows_the_web_apps_status_and_step_number(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    seen = []
    for step in range(len(STEP_NAMES)):
        job = store.begin_step(job_id, token, step, "w", T0 + step).job
        seen.append((job.status, job.current_step, job.total_steps))
    # The web shows "step k of 6": the clone is 0 and finalize stays at the last step.
    assert seen == [
        ("cloning", 0, 6),
        *[("analyzing", step, 6) for step in range(1, 7)],
        ("gathering", 6, 6),
    ]


def test_clone_step_sets_status_cloning(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    store.begin_step(job_id, token, 0, "w", T0 + 1)
    assert store.get_job(job_id).status == "cloning"


def test_job_logs_are_numbered_in_order(store: JobStore) -> None:
    job_id = new_job(store)
    seqs = [store.append_log(job_id, "info", f"line {i}", T0 + i) for i in range(3)]
    assert seqs == [0, 1, 2]
    assert [entry.msg for entry in store.get_logs(job_id, after_seq=0)] == ["line 1", "line 2"]


def test_docs_are_upserted_by_job_and_slug(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    doc = DocSpec(slug="01-core", title="Core", chapter_index=1, kind="chapter", content="v1")
    store.upsert_docs(job_id, token, [doc], T0 + 1)
    store.upsert_docs(job_id, token, [doc.model_copy(update={"content": "v2"})], T0 + 2)
    docs = store.get_docs(job_id)
    assert len(docs) == 1
    assert docs[0].content == "v2"
    assert docs[0].repository_id == store.get_job(job_id).repository_id


def chapter(index: int, content: str = "Body.\n") -> DocSpec:
    return DocSpec(
        slug=f"{index:02d}-c{index}", title=f"C{index}", chapter_index=index, kind="chapter",
        content=content, source_key=f"r:chapter:c{index}",
    )  # fmt: skip


def test_chapters_stored_as_reviewed_show_at_once_with_the_running_status_and_their_count(
    store: JobStore,
) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    store.begin_step(job_id, token, 5, "w", T0 + 1)
    assert store.publish_chapters(job_id, token, [chapter(2)], 1, 8, T0 + 2) == 1
    job = store.get_job(job_id)
    assert (job.status, job.current_step) == ("running", 5)
    assert job.progress == "Chapitres prêts : 1 sur 8"
    assert job.docs_count is None
    store.publish_chapters(job_id, token, [chapter(1), chapter(2, "Again.\n")], 2, 8, T0 + 3)
    docs = store.get_docs(job_id)
    assert [(d.slug, d.content, d.source_key) for d in docs] == [
        ("01-c1", "Body.\n", "r:chapter:c1"),
        ("02-c2", "Again.\n", "r:chapter:c2"),
    ]
    assert store.get_job(job_id).progress == "Chapitres prêts : 2 sur 8"


def test_a_job_whose_chapters_show_stays_running_through_its_later_steps(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    store.begin_step(job_id, token, 5, "w", T0 + 1)
    store.publish_chapters(job_id, token, [chapter(1)], 1, 2, T0 + 2)
    for step in (6, 7):
        job = store.begin_step(job_id, token, step, "w", T0 + step).job
        assert (job.status, job.current_step) == ("running", 6)
        assert job.progress == step_progress(step, "fr")


def test_a_holder_whose_lease_was_lost_stores_no_chapter(store: JobStore) -> None:
    new_job(store)
    job_id, stale = claim_one(store)
    store.reclaim_expired(T0 + LEASE + 1, 10)
    claim_one(store, now=T0 + LEASE + 2, owner="b2")
    with pytest.raises(LeaseLost):
        store.publish_chapters(job_id, stale, [chapter(1)], 1, 2, T0 + LEASE + 3)
    assert store.get_docs(job_id) == []
    assert store.get_job(job_id).status == "claimed"


def test_a_canceled_job_stores_no_more_chapters(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    store.begin_step(job_id, token, 5, "w", T0 + 1)
    store.publish_chapters(job_id, token, [chapter(1)], 1, 2, T0 + 2)
    store.request_cancel(job_id, T0 + 3)
    with pytest.raises(CancelRequested):
        store.publish_chapters(job_id, token, [chapter(2)], 2, 2, T0 + 4)
    assert [d.slug for d in store.get_docs(job_id)] == ["01-c1"]


def test_only_chapters_are_stored_before_the_save(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    toc = DocSpec(slug="index", title="I", chapter_index=0, kind="toc", content="x")
    with pytest.raises(ValueError):
        store.publish_chapters(job_id, token, [toc], 0, 1, T0 + 1)
    assert store.get_docs(job_id) == []


def test_a_blank_chapter_is_not_stored_before_the_save_either(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    with pytest.raises(MalformedJob, match="chapter 02-c2 has no content"):
        store.publish_chapters(job_id, token, [chapter(1), chapter(2, " \n")], 2, 2, T0 + 1)
    assert store.get_docs(job_id) == []


def test_chapters_in_parts_larger_than_one_call_are_all_stored(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    # Nine docs of 900 kB: more than one call's share on Convex (4 MiB per call).
    parts = [chapter(1, f"{k}" * 900_000).model_copy(update={"slug": f"01-c1-part-{k}"})
             for k in range(1, 10)]  # fmt: skip
    assert store.publish_chapters(job_id, token, parts, 1, 1, T0 + 1) == 9
    assert sorted(d.slug for d in store.get_docs(job_id)) == sorted(d.slug for d in parts)


def test_the_save_removes_docs_an_earlier_run_left_and_only_those(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    docs = [chapter(i) for i in range(1, 12)]
    store.publish_chapters(job_id, token, docs, 11, 11, T0 + 1)
    # More than one Convex call's share (8), a slug without a doc, and a repeat.
    gone = [d.slug for d in docs[:10]] + ["99-never"]
    assert store.remove_docs(job_id, token, gone, T0 + 2) == 10
    assert store.remove_docs(job_id, token, gone, T0 + 3) == 0
    assert [d.slug for d in store.get_docs(job_id)] == ["11-c11"]
    store.reclaim_expired(T0 + LEASE + 1, 10)
    with pytest.raises(LeaseLost):
        store.remove_docs(job_id, token, ["11-c11"], T0 + LEASE + 2)
    assert [d.slug for d in store.get_docs(job_id)] == ["11-c11"]


@pytest.mark.parametrize("kind", ["chapter", "tutorial"])
def test_a_blank_chapter_or_tutorial_is_refused_and_nothing_of_the_call_is_stored(
    store: JobStore, kind: str
) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    good = DocSpec(slug="index", title="Shop", chapter_index=0, kind="toc", content="x\n")
    blank = DocSpec(slug="01-core", title="Core", chapter_index=1, kind=kind, content=" \n")
    with pytest.raises(MalformedJob, match=f"{kind} 01-core has no content"):
        store.upsert_docs(job_id, token, [good, blank], T0 + 1)
    assert store.get_docs(job_id) == []
    # A blank yaml or index is the engine's business, not a reader's page: not refused.
    store.upsert_docs(job_id, token, [good.model_copy(update={"content": ""})], T0 + 2)


def test_complete_is_final_and_repeatable_by_its_holder(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    result = {"success": True, "message": "ok", "data": "4 documents"}
    job = store.complete(job_id, token, result, 4, T0 + 1)
    assert job.status == "completed"
    assert job.docs_count == 4
    assert job.result == result
    assert job.completed_at == T0 + 1
    assert store.complete(job_id, token, {"success": True}, 4, T0 + 2).status == "completed"
    with pytest.raises(LeaseLost):
        store.renew(job_id, token, LEASE, T0 + 3)


def test_a_result_is_stored_as_the_web_app_reads_it_with_data_as_text(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    result = {"success": True, "message": None, "data": {"chapters": 3, "tutorials": 1}}
    job = store.complete(job_id, token, result, 4, T0 + 1)
    assert job.result == {"success": True, "data": '{"chapters": 3, "tutorials": 1}'}


def test_release_gives_the_job_back_without_counting_an_attempt(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    store.release(job_id, token, T0 + 1, "bridge stopping")
    job = store.get_job(job_id)
    assert job.status == "pending"
    assert job.attempts == 0
    assert claim_one(store, now=T0 + 2)[0] == job_id


def test_release_with_a_run_at_holds_the_job_back_until_then_with_its_progress(
    store: JobStore,
) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    waiting = "En attente : limite d'utilisation de Claude atteinte, reprise vers 15:00"
    store.release(job_id, token, T0 + 1, "usage limit", run_at_ms=T0 + 60_000, progress=waiting)
    job = store.get_job(job_id)
    assert (job.status, job.attempts, job.progress) == ("pending", 0, waiting)
    assert store.claim_batch("b1", 1, LEASE, T0 + 59_999) == []
    assert claim_one(store, now=T0 + 60_000)[0] == job_id


def test_held_jobs_lists_the_owners_active_jobs(store: JobStore) -> None:
    for i in range(3):
        new_job(store, now=T0 + i)
    store.claim_batch("b1", 2, LEASE, T0 + 10)
    store.claim_batch("b2", 1, LEASE, T0 + 10)
    assert len(store.held_jobs("b1", 10)) == 2
    assert len(store.held_jobs("b2", 10)) == 1


def test_held_jobs_show_every_change_made_since_the_last_call(store: JobStore) -> None:
    first, second = new_job(store, now=T0), new_job(store, now=T0 + 1)
    store.claim_batch("b1", 2, LEASE, T0 + 10)
    before = {j.id: j for j in store.held_jobs("b1", 10)}
    assert not before[first].cancel_requested
    store.request_cancel(first, T0 + 11)
    token = before[second].lease_token
    assert token is not None
    store.begin_step(second, token, 2, "w", T0 + 12)
    after = {j.id: j for j in store.held_jobs("b1", 10)}
    assert after[first].cancel_requested
    assert (after[second].status, after[second].current_step) == ("analyzing", 2)
    store.complete(second, token, {"success": True}, 0, T0 + 13)
    assert [j.id for j in store.held_jobs("b1", 10)] == [first]


def test_retry_puts_a_dead_job_back_and_keeps_its_artifacts(store: JobStore) -> None:
    new_job(store, max_attempts=1)
    job_id, token = claim_one(store)
    store.begin_step(job_id, token, 1, "w", T0 + 1)
    store.finish_step(job_id, token, 1, "{}", T0 + 2)
    assert store.fail(job_id, token, "x", False, T0 + 3, 0).status == "dead"
    job = store.retry_job(job_id, T0 + 4)
    assert job.status == "pending"
    assert job.attempts == 0
    assert [s.status for s in store.get_steps(job_id)] == ["completed"]


def test_retry_refuses_an_active_job(store: JobStore) -> None:
    new_job(store)
    job_id, _ = claim_one(store)
    with pytest.raises(MalformedJob):
        store.retry_job(job_id, T0 + 1)


def test_unknown_jobs_are_reported_as_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        store.get_job("nope")


def test_counts_and_oldest_pending(store: JobStore) -> None:
    a = new_job(store, now=T0)
    new_job(store, now=T0 + 5)
    store.request_cancel(a, T0 + 6)
    assert store.count_by_status() == {"pending": 1, "canceled": 1}
    assert store.oldest_pending(T0 + 10) == T0 + 5


def test_stuck_jobs_are_listed_and_requeued_by_an_operator(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    assert store.list_stuck(T0 + 1, 600_000, 10) == []
    stuck = store.list_stuck(T0 + LEASE + 1, 600_000, 10)
    assert [j.id for j in stuck] == [job_id]
    job = store.requeue(job_id, T0 + LEASE + 2, "operator")
    assert job.status == "pending"
    assert job.locked_by is None
    with pytest.raises(LeaseLost):
        store.renew(job_id, token, LEASE, T0 + LEASE + 3)


def run_to_end(store: JobStore, now: int, end: str = "complete") -> str:
    """A job of the one repository, run with one chapter doc to completed (or failed)."""
    job_id = new_job(store, now=now)
    claim_id, token = claim_one(store, now)
    assert claim_id == job_id
    doc = DocSpec(slug=f"c{now}", title="t", chapter_index=1, kind="chapter", content="c")
    store.upsert_docs(job_id, token, [doc], now)
    if end == "complete":
        store.complete(job_id, token, {"success": True, "data": "1 documents"}, 1, now)
    else:
        store.fail(job_id, token, "broken", True, now, 0)
    return job_id


def test_a_completion_removes_the_other_completed_courses_of_the_repository(
    store: JobStore,
) -> None:
    first = run_to_end(store, T0)
    failed = run_to_end(store, T0 + 10, "fail")
    latest = run_to_end(store, T0 + 20)
    assert store.get_docs(first) == []
    # Only completed jobs give way: a failed run's docs are the purge's business.
    assert len(store.get_docs(failed)) == 1
    assert [d.job_id for d in store.get_docs(latest)] == [latest]
    assert store.get_job(first).status == "completed"


def test_purge_deletes_old_finished_jobs_with_their_docs_but_never_the_latest_course(
    store: JobStore,
) -> None:
    older = run_to_end(store, T0)
    failed = run_to_end(store, T0 + 10, "fail")
    latest = run_to_end(store, T0 + 20)
    live = new_job(store, now=T0 + 30)
    assert store.purge(T0, 10, dry_run=False) == []
    assert store.purge(T0 + 100, 10, dry_run=True) == [older, failed]
    assert store.get_job(older).status == "completed"
    assert store.purge(T0 + 100, 10, dry_run=False) == [older, failed]
    for job_id in (older, failed):
        with pytest.raises(JobNotFound):
            store.get_job(job_id)
        assert store.get_logs(job_id) == []
        assert store.get_docs(job_id) == []
    assert len(store.get_docs(latest)) == 1
    assert store.purge(T0 + 10**9, 10, dry_run=False) == []
    assert store.get_job(latest).status == "completed"
    assert store.get_job(live).status == "pending"


def test_no_step_starts_once_a_cancel_is_requested(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    store.begin_step(job_id, token, 1, "w", T0 + 1)
    store.request_cancel(job_id, T0 + 2)
    with pytest.raises(CancelRequested):
        store.begin_step(job_id, token, 2, "w", T0 + 3)
    assert store.mark_canceled(job_id, token, T0 + 4).status == "canceled"


def test_a_steps_usage_is_stored_with_its_artifact(store: JobStore) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    store.begin_step(job_id, token, 4, "w", T0 + 1)
    store.finish_step(job_id, token, 4, "{}", T0 + 2, '{"cost_usd": 0.25, "turns": 7}')
    [step] = store.get_steps(job_id)
    assert step.usage == '{"cost_usd": 0.25, "turns": 7}'


# The texts each store writes, checked against store/progress.py: the Convex
# store's come from the TypeScript copy, so this pins the two copies equal.
FRENCH_STEPS = [
    "Clonage du dépôt...",
    "Étape 1/6: Extraction des abstractions principales",
    "Étape 2/6: Analyse des relations entre composants",
    "Étape 3/6: Détermination de l'ordre optimal des chapitres",
    "Étape 4/6: Génération du contenu des chapitres",
    "Étape 5/6: Révision et amélioration des chapitres",
    "Étape 6/6: Génération de tutoriels interactifs",
    "Sauvegarde des résultats...",
]


def test_french_progress_is_the_node_workers_text() -> None:
    assert [step_progress(step, "fr") for step in range(8)] == FRENCH_STEPS
    assert step_progress(3, "en") == step_log_line(3) == "Step 3/6: Determining order"


MOMENTS: tuple[Moment, ...] = get_args(Moment)


def moments_seen(store: JobStore) -> dict[str, str | None]:
    """The progress text after each kind of change a store makes."""
    seen: dict[str, str | None] = {}
    job_id = new_job(store)
    seen["queued"] = store.get_job(job_id).progress
    job_id, token = claim_one(store)
    seen["claimed"] = store.get_job(job_id).progress
    seen["retrying"] = store.fail(job_id, token, "flaky", False, T0 + 1, 0).progress
    job_id, token = claim_one(store, T0 + 10**7)
    seen["canceled"] = store.mark_canceled(job_id, token, T0 + 10**7).progress
    new_job(store, now=T0 + 2 * 10**7)
    job_id, token = claim_one(store, T0 + 2 * 10**7)
    seen["failed"] = store.fail(job_id, token, "bad", True, T0 + 2 * 10**7, 0).progress
    new_job(store, now=T0 + 3 * 10**7, max_attempts=1)
    job_id, token = claim_one(store, T0 + 3 * 10**7)
    seen["dead"] = store.fail(job_id, token, "flaky", False, T0 + 3 * 10**7, 0).progress
    new_job(store, now=T0 + 4 * 10**7)
    job_id, token = claim_one(store, T0 + 4 * 10**7)
    seen["completed"] = store.complete(job_id, token, {"success": True}, 0, T0 + 4 * 10**7).progress
    return seen


def steps_seen(store: JobStore) -> tuple[list[str | None], list[str]]:
    """The progress text while each step runs, and the job's log lines."""
    new_job(store)
    job_id, token = claim_one(store)
    progress = [store.begin_step(job_id, token, s, "w", T0 + s).job.progress for s in range(8)]
    return progress, [line.msg for line in store.get_logs(job_id)]


@pytest.mark.parametrize("kind", STORES)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_both_stores_write_the_same_progress_texts_and_english_logs(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, language: Language
) -> None:
    s = open_store(request, tmp_path, kind, progress_language=language)
    try:
        progress, logs = steps_seen(s)
        assert progress == [step_progress(step, language) for step in range(8)]
        # The claim writes its line; then one line per step start.
        assert logs == ["Claimed by b1"] + [
            f"{step_log_line(step)} (worker w)" for step in range(8)
        ]
        moments = moments_seen(s)
        assert moments == {m: moment_text(m, language) for m in MOMENTS}
    finally:
        s.close()


def test_a_claim_says_where_the_chain_starts_and_logs_it(store: JobStore) -> None:
    job_id = new_job(store)
    [claim] = store.claim_batch("b1", 1, LEASE, T0 + 1)
    assert claim.first_step == 0
    store.begin_step(job_id, claim.lease_token, 0, "w", T0 + 2)
    store.finish_step(job_id, claim.lease_token, 0, "{}", T0 + 3, log="Cloned it")
    store.begin_step(job_id, claim.lease_token, 1, "w", T0 + 4)
    store.finish_step(job_id, claim.lease_token, 1, "{}", T0 + 5)
    store.release(job_id, claim.lease_token, T0 + 6, "stopping")
    [again] = store.claim_batch("b2", 1, LEASE, T0 + 10**7)
    assert again.first_step == 2
    msgs = [line.msg for line in store.get_logs(job_id)]
    assert "Cloned it" in msgs
    assert msgs[-1] == f"Claimed by b2 from {STEP_NAMES[2]}"
    progress = store.job_progress(job_id)
    assert progress.job.id == job_id
    assert [s.step for s in progress.steps] == [0, 1]


def test_the_runbooks_grep_finds_the_step_lines_in_the_job_logs(store: JobStore) -> None:
    _, logs = steps_seen(store)
    assert [line for line in logs if re.search(r"Step [0-9]/6", line)] == [
        f"Step {step}/6: {STEP_NAMES[step]} (worker w)" for step in range(1, 7)
    ]


def log_lines(store: JobStore, job_id: str) -> list[tuple[str, str]]:
    return [(line.level, line.msg) for line in store.get_logs(job_id)]


def test_each_ending_writes_the_same_log_line_on_both_stores(store: JobStore) -> None:
    # The job log is the web's log view and what operators grep: exact texts.
    new_job(store, now=T0)
    job_id, token = claim_one(store)
    store.fail(job_id, token, "network down", False, T0 + 100, 1234)
    job_id, token = claim_one(store, T0 + 10**6)
    # 12.25 s is an exact tie, which both stores round to even as Python's format does.
    store.fail(job_id, token, "flaky", False, T0 + 10**6, 2_250)
    assert ending_lines(store, job_id) == [
        ("error", "Attempt 1 failed, retry in 6.2 s: network down"),
        ("error", "Attempt 2 failed, retry in 12.2 s: flaky"),
    ]
    job_id, token = claim_one(store, T0 + 2 * 10**6)
    store.complete(job_id, token, {"success": True}, 0, T0 + 2 * 10**6)
    assert log_lines(store, job_id)[-1] == ("info", "Completed")

    permanent = new_job(store, now=T0 + 3 * 10**6)
    _, token = claim_one(store, T0 + 3 * 10**6)
    store.fail(permanent, token, "bad URL", True, T0 + 3 * 10**6, 0)
    assert ending_lines(store, permanent) == [("error", "Failed: bad URL")]

    dead = new_job(store, now=T0 + 4 * 10**6, max_attempts=1)
    _, token = claim_one(store, T0 + 4 * 10**6)
    store.fail(dead, token, "flaky", False, T0 + 4 * 10**6, 0)
    assert ending_lines(store, dead) == [("error", "Dead after 1 attempts: flaky")]

    requeued = new_job(store, now=T0 + 5 * 10**6)
    claim_one(store, T0 + 5 * 10**6)
    store.requeue(requeued, T0 + 5 * 10**6 + 1, "operator")
    assert ending_lines(store, requeued) == [("info", "Requeued: operator")]


def ending_lines(store: JobStore, job_id: str) -> list[tuple[str, str]]:
    """The job's log lines but the claims' own ("Claimed by ...")."""
    return [line for line in log_lines(store, job_id) if not line[1].startswith("Claimed by")]


def test_a_job_given_back_says_why_and_shows_queued(store: JobStore) -> None:
    queued = moment_text("queued", "fr")
    job_id = new_job(store)
    claim_one(store)
    assert store.reclaim_expired(T0 + LEASE + 1, 10) == [job_id]
    job = store.get_job(job_id)
    assert (job.status, job.last_error, job.progress) == ("pending", "lease expired", queued)
    _, token = claim_one(store, T0 + LEASE + 2)
    store.release(job_id, token, T0 + LEASE + 3, "bridge stopping")
    job = store.get_job(job_id)
    assert (job.status, job.last_error, job.progress) == ("pending", "bridge stopping", queued)
    claim_one(store, T0 + LEASE + 4)
    job = store.requeue(job_id, T0 + LEASE + 5, "operator")
    assert (job.status, job.last_error, job.progress) == ("pending", "operator", queued)


def test_the_retry_schedule_lands_in_run_at_on_both_stores(store: JobStore) -> None:
    job_id = new_job(store, max_attempts=11)
    now = T0
    delays = []
    for _ in range(10):
        claimed, token = claim_one(store, now)
        assert claimed == job_id
        job = store.fail(job_id, token, "flaky", False, now, 0)
        assert job.run_at is not None
        delays.append(job.run_at - now)
        now = job.run_at
    # min(5 s * 2^(n-1), 10 min), with no jitter drawn.
    assert delays == [backoff_ms(n) for n in range(1, 11)]
    assert delays[-3:] == [600_000, 600_000, 600_000]


def job_in(store: JobStore, status: str, now: int) -> str:
    """A job brought to ``status`` by the store's own calls."""
    if status == "pending":
        # Not ready for a long while, so that later claims take the job meant for them.
        return new_job(store, now=now, run_at=now + 10**12)
    if status == "completed":
        return run_to_end(store, now)
    job_id = new_job(store, now=now, max_attempts=1)
    _, token = claim_one(store, now)
    if status == "failed":
        store.fail(job_id, token, "bad", True, now, 0)
    elif status == "dead":
        store.fail(job_id, token, "flaky", False, now, 0)
    elif status == "canceled":
        store.mark_canceled(job_id, token, now)
    elif status != "claimed":
        store.begin_step(
            job_id, token, {"cloning": 0, "analyzing": 1, "gathering": 7}[status], "w", now
        )
    assert store.get_job(job_id).status == status
    return job_id


def test_exactly_the_retryable_statuses_can_be_retried(store: JobStore) -> None:
    # "running" is the Node worker's status; no call of ours writes it.
    statuses = [s for s in get_args(JobStatus) if s != "running"]
    retried = []
    for i, status in enumerate(statuses):
        job_id = job_in(store, status, T0 + i * 10**6)
        try:
            job = store.retry_job(job_id, T0 + i * 10**6 + 1)
        except MalformedJob:
            continue
        assert (job.status, job.attempts) == ("pending", 0)
        retried.append(status)
        store.request_cancel(job_id, T0 + i * 10**6 + 2)  # out of the next claims' way
    assert set(retried) == RETRYABLE_STATUSES


def test_only_the_convex_store_has_per_user_tokens_and_both_fence_the_read(
    store: JobStore,
) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    assert store.per_user_tokens is (type(store).__name__ == "ConvexStore")
    with pytest.raises(LeaseLost):
        store.owner_github_token(job_id, "not-the-token")
    # The CLI's users have no GitHub token: None on both stores.
    assert store.owner_github_token(job_id, token) is None


def end_under_holder(store: JobStore, job_id: str, status: str) -> None:
    """Write a final status straight into the job, as the web app's cancel does."""
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as db:
            db.execute("UPDATE jobs SET status=? WHERE id=?", (status, job_id))
        return
    web = WebApp(store.url)  # type: ignore[attr-defined]
    try:
        web.cancel(job_id)
    finally:
        web.close()


def test_a_job_canceled_under_its_holder_tells_the_holder_to_stop_and_takes_no_write(
    store: JobStore,
) -> None:
    new_job(store)
    job_id, token = claim_one(store)
    store.begin_step(job_id, token, 0, "w", T0 + 1)
    before = store.get_job(job_id)
    end_under_holder(store, job_id, "canceled")
    state = store.renew(job_id, token, LEASE, T0 + 2)
    assert (state.cancel_requested, state.status, state.lease_until) == (
        True,
        "canceled",
        before.lease_until,
    )
    for write in (
        lambda: store.begin_step(job_id, token, 1, "w", T0 + 3),
        lambda: store.finish_step(job_id, token, 0, "{}", T0 + 3),
        lambda: store.complete(job_id, token, {"success": True}, 0, T0 + 3),
        lambda: store.mark_canceled(job_id, token, T0 + 3),
    ):
        with pytest.raises(CancelRequested):
            write()
    with pytest.raises(LeaseLost):
        store.renew(job_id, "another-token", LEASE, T0 + 3)
    assert store.reclaim_expired(T0 + 10 * LEASE, 10) == []
    assert store.get_job(job_id).status == "canceled"
    assert store.claim_batch("b2", 5, LEASE, T0 + 10 * LEASE) == []
