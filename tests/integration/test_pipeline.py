"""Whole jobs through a real bridge and a real Celery worker process on a real Redis."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from analysis.course.usage import total_usage
from cli.submit import submit_job
from fondation.settings import Settings, load_settings
from store.sqlite import SqliteStore
from testbed import services
from testbed.gitrepo import make_repo

pytestmark = pytest.mark.integration


def _store(env: dict[str, str]) -> SqliteStore:
    return SqliteStore(Path(env["SQLITE_PATH"]))


@dataclass
class _Stack:
    store: SqliteStore
    settings: Settings
    worker: services.Service
    bridge: services.Service


@contextlib.contextmanager
def _stack(tmp_path: Path, redis_url: str, **env: str) -> Iterator[_Stack]:
    """A worker and a bridge on a fresh SQLite store, stopped when the test ends."""
    full_env = services.base_env(tmp_path, redis_url, **env)
    settings = load_settings(allow_local_repos=True, sqlite_path=Path(full_env["SQLITE_PATH"]))
    w = services.worker(tmp_path, full_env)
    b = services.bridge(tmp_path, full_env)
    try:
        yield _Stack(_store(full_env), settings, w, b)
    finally:
        b.stop()
        w.stop()


def test_a_job_runs_every_step_once_and_stores_the_course(tmp_path: Path, redis_url: str) -> None:
    repo = make_repo(tmp_path / "shop")
    ledger = tmp_path / "ledger.txt"
    with _stack(tmp_path, redis_url, LEDGER_PATH=str(ledger)) as stack:
        store, w, b = stack.store, stack.worker, stack.bridge
        job, _ = submit_job(store, stack.settings, str(repo), redis_url=redis_url)
        services.wait_for(lambda: store.get_job(job.id).is_final, 60, "the job to end")
        final = store.get_job(job.id)
        assert final.status == "completed", (final, w.log()[-3000:], b.log()[-3000:])
        steps = store.get_steps(job.id)
        assert [(s.step, s.status, s.runs) for s in steps] == [
            (i, "completed", 1) for i in range(8)
        ]
        kinds = sorted({d.kind for d in store.get_docs(job.id)})
        assert kinds == ["chapter", "toc", "tutorial", "yaml"]
        assert final.docs_count == len(store.get_docs(job.id))
        starts = [r for r in services.read_ledger(ledger) if r[1] == "start"]
        assert sorted(r[3] for r in starts) == [1, 2, 3, 4, 5, 6]
        # TEMP_DIR is cleaned after success: the job's folder at once, its files soon.
        assert not list((tmp_path / "work" / "jobs").glob("*"))
        trash = tmp_path / "work" / "trash"
        services.wait_for(lambda: not any(trash.glob("*")), 10, "the files to be deleted")
        logs = [entry.msg for entry in store.get_logs(job.id)]
        assert any(m.startswith("Step 3/6: Determining order") for m in logs)


def test_malformed_jobs_fail_clearly_and_the_others_run(tmp_path: Path, redis_url: str) -> None:
    repo = make_repo(tmp_path / "shop")
    env = services.base_env(tmp_path, redis_url, MAX_CONCURRENT_JOBS="10", QUEUE_HIGH_WATER="10")
    store = _store(env)
    settings = load_settings(allow_local_repos=True, sqlite_path=Path(env["SQLITE_PATH"]))
    good, _ = submit_job(store, settings, str(repo))
    wrong_type, _ = submit_job(store, settings, str(repo))
    no_repo, _ = submit_job(store, settings, str(repo))
    bad_result, _ = submit_job(store, settings, str(repo))
    # Rows as a careless client could write them: SQLite keeps whatever it is given.
    db = sqlite3.connect(env["SQLITE_PATH"])
    db.execute("UPDATE jobs SET maxAttempts='many' WHERE id=?", (wrong_type.id,))
    db.execute("UPDATE jobs SET repositoryId='nowhere' WHERE id=?", (no_repo.id,))
    db.execute("UPDATE jobs SET result='{not json' WHERE id=?", (bad_result.id,))
    db.commit()
    db.close()
    w = services.worker(tmp_path, env)
    b = services.bridge(tmp_path, env)
    try:
        ids = [good.id, wrong_type.id, no_repo.id, bad_result.id]
        raw = sqlite3.connect(env["SQLITE_PATH"])

        def status(job_id: str) -> str:
            return str(raw.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()[0])

        services.wait_for(
            lambda: all(status(i) in {"completed", "failed", "dead"} for i in ids),
            60,
            "every job to end",
        )
        assert status(good.id) == "completed"
        for job_id in (wrong_type.id, no_repo.id, bad_result.id):
            assert status(job_id) == "failed"
            error = raw.execute("SELECT error FROM jobs WHERE id=?", (job_id,)).fetchone()[0]
            assert "malformed" in error or "does not exist" in error, error
        assert b.alive()
        assert w.alive()
    finally:
        b.stop()
        w.stop()


@pytest.mark.parametrize("engine", ["offline", "claude"])
def test_each_engine_carries_a_job_through_the_pipeline(
    tmp_path: Path, redis_url: str, engine: str
) -> None:
    from testbed.claude_double import make_claude_bin

    repo = make_repo(tmp_path / "shop")
    extra = {"ANALYSIS_ENGINE": engine}
    if engine == "claude":
        extra["CLAUDE_BIN"] = str(make_claude_bin(tmp_path / "bin", "success"))
        extra["ANTHROPIC_API_KEY"] = "sk-ant-test-not-a-real-key"
    env = services.base_env(tmp_path, redis_url, **extra)
    store = _store(env)
    settings = load_settings(allow_local_repos=True, sqlite_path=Path(env["SQLITE_PATH"]))
    w = services.worker(tmp_path, env)
    b = services.bridge(tmp_path, env)
    try:
        job, _ = submit_job(store, settings, str(repo), redis_url=redis_url)
        services.wait_for(lambda: store.get_job(job.id).is_final, 120, "the job to end")
        final = store.get_job(job.id)
        assert final.status == "completed", (final, w.log()[-3000:])
        docs = store.get_docs(job.id)
        chapters = [d for d in docs if d.kind == "chapter"]
        assert chapters
        assert all(len(d.content.split()) > 20 for d in chapters)
        assert "sk-ant-test" not in w.log() + b.log()
        if engine == "claude":
            # What the CLI calls cost is kept per step; the job's total is their sum.
            steps = store.get_steps(job.id)
            assert all(s.usage for s in steps if 1 <= s.step <= 6)
            assert total_usage(steps)["calls"] >= 6
            # The CLI's raw outputs outlive the job's folder, for replay.
            raw = list((tmp_path / "work" / "raw").rglob("*.json"))
            assert len([p for p in raw if not p.name.endswith(".meta.json")]) >= 6
    finally:
        b.stop()
        w.stop()


def test_an_engine_that_brings_its_own_checkouts_gets_the_repository_through_them(
    tmp_path: Path, redis_url: str
) -> None:
    # The benchmark engine whose clone runs no git: every step, the clone included, is
    # its own, and the job still goes through the whole pipeline.
    repo = make_repo(tmp_path / "shop")
    engine = "bench.engine:FixedTimeCloneEngine"
    with _stack(tmp_path, redis_url, ANALYSIS_ENGINE=engine) as stack:
        job, _ = submit_job(stack.store, stack.settings, str(repo), redis_url=redis_url)
        services.wait_for(lambda: stack.store.get_job(job.id).is_final, 60, "the job to end")
        final = stack.store.get_job(job.id)
        assert final.status == "completed", (final, stack.worker.log()[-3000:])
        cloned = json.loads(stack.store.get_steps(job.id)[0].artifact or "{}")
        assert (cloned["commit"], cloned["files"]) == ("0" * 40, 0)
        assert any("(0 files, 0 bytes)" in e.msg for e in stack.store.get_logs(job.id))


def test_a_finished_job_wakes_the_bridge_for_the_job_waiting_behind_it(
    tmp_path: Path, redis_url: str
) -> None:
    # One job at a time, and a poll and a lost-work check (three liveness intervals) far
    # longer than the test: only the worker's wake-up when the first job completes can
    # get the second one started in time.
    repo = make_repo(tmp_path / "shop")
    with _stack(
        tmp_path, redis_url, POLL_INTERVAL="60000", WORKER_LIVENESS_INTERVAL="10",
        MAX_CONCURRENT_JOBS="1", QUEUE_HIGH_WATER="1",
    ) as stack:  # fmt: skip
        store = stack.store
        first, _ = submit_job(store, stack.settings, str(repo), redis_url=redis_url)
        second, _ = submit_job(store, stack.settings, str(repo), redis_url=redis_url)
        services.wait_for(lambda: store.get_job(second.id).is_final, 40, "both jobs to end")
        done_first = store.get_job(first.id).completed_at
        assert done_first is not None
        started_second = min(s.started_at for s in store.get_steps(second.id))
        assert store.get_job(second.id).status == "completed"
        logs = (stack.worker.log()[-2000:], stack.bridge.log()[-2000:])
        assert 0 <= started_second - done_first < 5_000, logs
