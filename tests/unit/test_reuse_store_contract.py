"""The reuse records' contract, run unchanged against each store: a job reads only its
own repository's records, a key keeps its newest few, and only the lease holder reads
or writes them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fondation.errors import LeaseLost
from fondation.steps import FINALIZE_STEP
from store.base import JobStore
from store.records import (
    REUSE_VALUE_MAX_CHARS,
    REUSE_VARIANTS_PER_KEY,
    DocSpec,
    JobSpec,
    RepositorySpec,
    ReuseEntry,
)
from tests.unit.test_store_contract import LEASE, STORES, T0, open_store


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobStore]:
    s = open_store(request, tmp_path, request.param)
    yield s
    s.close()


def held_job(store: JobStore, full_name: str, now: int = T0) -> tuple[str, str]:
    """A claimed job of the repository ``full_name``: (job id, lease token)."""
    repo = store.upsert_repository(
        RepositorySpec(user_id="u1", name=full_name.split("/")[1], full_name=full_name), now
    )
    job, _ = store.create_job(JobSpec(user_id="u1", repository_id=repo.id), now)
    claims = store.claim_batch("b1", 10, LEASE, now + 1)
    token = next(c.lease_token for c in claims if c.job.id == job.id)
    return job.id, token


def test_a_later_job_of_the_same_repository_finds_what_an_earlier_one_kept(
    store: JobStore,
) -> None:
    first, token = held_job(store, "octo/shop")
    store.save_reuse(first, token, "answer", "chapter-01", "v1", '{"a": 1}', T0 + 2)
    second, token2 = held_job(store, "octo/shop", T0 + 10)
    found = store.find_reuse(second, token2, "answer", "chapter-01")
    assert [(r.variant, r.value, r.job_id) for r in found] == [("v1", '{"a": 1}', first)]
    assert store.find_reuse(second, token2, "step", "chapter-01") == []
    assert store.find_reuse(second, token2, "answer", "chapter-02") == []


def test_a_job_never_sees_the_records_of_another_repository(store: JobStore) -> None:
    shop, token = held_job(store, "octo/shop")
    store.save_reuse(shop, token, "answer", "abstractions", "v1", '{"secret": 1}', T0 + 2)
    other, other_token = held_job(store, "evil/other", T0 + 10)
    assert store.find_reuse(other, other_token, "answer", "abstractions") == []
    # Its own record under the same key stays its own, and the first one is untouched.
    store.save_reuse(other, other_token, "answer", "abstractions", "v1", '{"mine": 1}', T0 + 11)
    assert [r.value for r in store.find_reuse(other, other_token, "answer", "abstractions")] == [
        '{"mine": 1}'
    ]
    assert [r.value for r in store.find_reuse(shop, token, "answer", "abstractions")] == [
        '{"secret": 1}'
    ]


def test_saving_a_variant_again_replaces_it_and_a_key_keeps_only_its_newest(
    store: JobStore,
) -> None:
    job, token = held_job(store, "octo/shop")
    store.save_reuse(job, token, "answer", "k", "v0", "old", T0 + 2)
    store.save_reuse(job, token, "answer", "k", "v0", "new", T0 + 3)
    assert [r.value for r in store.find_reuse(job, token, "answer", "k")] == ["new"]
    for i in range(1, REUSE_VARIANTS_PER_KEY + 2):
        store.save_reuse(job, token, "answer", "k", f"v{i}", str(i), T0 + 3 + i)
    found = store.find_reuse(job, token, "answer", "k")
    newest = [str(i) for i in range(REUSE_VARIANTS_PER_KEY + 1, 1, -1)]
    assert [r.value for r in found] == newest


def test_only_the_lease_holder_reads_and_writes_records(store: JobStore) -> None:
    job, _ = held_job(store, "octo/shop")
    with pytest.raises(LeaseLost):
        store.find_reuse(job, "not-the-token", "answer", "k")
    with pytest.raises(LeaseLost):
        store.save_reuse(job, "not-the-token", "answer", "k", "v", "x", T0 + 2)


def test_a_value_too_large_for_one_document_is_refused(store: JobStore) -> None:
    job, token = held_job(store, "octo/shop")
    with pytest.raises(ValueError):
        store.save_reuse(job, token, "step", "k", "v", "x" * (REUSE_VALUE_MAX_CHARS + 1), T0)


def test_a_fresh_job_says_so_and_a_completion_keeps_its_regeneration_stats(
    store: JobStore,
) -> None:
    repo = store.upsert_repository(RepositorySpec(user_id="u1", name="s", full_name="o/s"), T0)
    job, _ = store.create_job(JobSpec(user_id="u1", repository_id=repo.id, fresh=True), T0)
    assert store.get_job(job.id).fresh is True
    claim = store.claim_batch("b1", 1, LEASE, T0 + 1)[0]
    stats = {"inserted": 1, "updated": 2, "skipped": 3, "rejected": 0, "deleted": 4}
    done = store.complete(job.id, claim.lease_token, {"success": True}, 6, T0 + 2, stats)
    assert done.regeneration_stats == stats
    assert store.get_job(job.id).regeneration_stats == stats


def test_a_step_start_brings_the_records_of_the_key_it_names(store: JobStore) -> None:
    first, token = held_job(store, "octo/shop")
    store.save_reuse(first, token, "step", "course", first, '{"v": 1}', T0 + 2)
    other, other_token = held_job(store, "evil/other", T0 + 5)
    store.save_reuse(other, other_token, "step", "course", other, '{"theirs": 1}', T0 + 6)
    second, token2 = held_job(store, "octo/shop", T0 + 10)
    start = store.begin_step(second, token2, 0, "w", T0 + 11, ("step", "course"))
    assert start.reuse == store.find_reuse(second, token2, "step", "course")
    assert [(r.variant, r.value, r.job_id) for r in start.reuse] == [(first, '{"v": 1}', first)]
    # Without a key, or with a key of nothing kept, none; a completed step's start too.
    assert store.begin_step(second, token2, 1, "w", T0 + 12).reuse == []
    assert store.begin_step(second, token2, 2, "w", T0 + 13, ("answer", "course")).reuse == []
    store.finish_step(second, token2, 2, "{}", T0 + 14)
    again = store.begin_step(second, token2, 2, "w", T0 + 15, ("step", "course"))
    assert again.step.status == "completed"
    assert [r.value for r in again.reuse] == ['{"v": 1}']
    with pytest.raises(LeaseLost):
        store.begin_step(second, "not-the-token", 3, "w", T0 + 16, ("step", "course"))


def test_a_completion_keeps_a_record_and_writes_its_line_before_completed_once(
    store: JobStore,
) -> None:
    job, token = held_job(store, "octo/shop")
    store.begin_step(job, token, FINALIZE_STEP, "w", T0 + 2, ("step", "course"))
    keep = ReuseEntry(kind="step", key="course", variant=job, value='{"docs": 3}')
    line = "Course against the previous one: 1 inserted, 0 updated, 2 unchanged, 0 deleted"
    for now in (T0 + 3, T0 + 4):  # a repeat after a lost answer writes nothing again
        done = store.complete(job, token, {"success": True}, 3, now, None, keep=keep, log=line)
        assert done.status == "completed"
    msgs = [entry.msg for entry in store.get_logs(job)]
    assert msgs[-2:] == [line, "Completed"]
    assert msgs.count(line) == 1
    later, later_token = held_job(store, "octo/shop", T0 + 10)
    kept = store.find_reuse(later, later_token, "step", "course")
    assert [(r.variant, r.value, r.job_id, r.created_at) for r in kept] == [
        (job, '{"docs": 3}', job, T0 + 3)
    ]


def test_a_completion_without_a_record_or_a_line_writes_neither(store: JobStore) -> None:
    job, token = held_job(store, "octo/shop")
    store.complete(job, token, {"success": True}, 0, T0 + 2)
    assert [entry.msg for entry in store.get_logs(job)][-1] == "Completed"
    later, later_token = held_job(store, "octo/shop", T0 + 10)
    assert store.find_reuse(later, later_token, "step", "course") == []


def test_a_completion_whose_record_is_too_large_is_refused_whole(store: JobStore) -> None:
    job, token = held_job(store, "octo/shop")
    keep = ReuseEntry(
        kind="step", key="course", variant=job, value="x" * (REUSE_VALUE_MAX_CHARS + 1)
    )
    with pytest.raises(ValueError):
        store.complete(job, token, {"success": True}, 0, T0 + 2, keep=keep, log="line")
    assert store.get_job(job).status == "claimed"
    assert "line" not in [entry.msg for entry in store.get_logs(job)]
    assert store.find_reuse(job, token, "step", "course") == []


def test_the_save_steps_start_says_whether_the_job_has_docs_stored(store: JobStore) -> None:
    job, token = held_job(store, "octo/shop")
    assert store.begin_step(job, token, 1, "w", T0 + 2).has_docs is None  # not read
    assert store.begin_step(job, token, FINALIZE_STEP, "w", T0 + 3).has_docs is False
    chapter = DocSpec(slug="01-cart", title="Cart", chapter_index=1, kind="chapter", content="x")
    store.upsert_docs(job, token, [chapter], T0 + 4)
    assert store.begin_step(job, token, FINALIZE_STEP, "w", T0 + 5).has_docs is True
