"""Cancel in each state and the bridge's graceful stop, with real processes."""

from __future__ import annotations

import collections
import signal
import time
from pathlib import Path

import pytest

from cli.submit import submit_job
from fondation.clock import now_ms
from fondation.settings import load_settings
from fondation.wake import announce
from store.sqlite import SqliteStore
from testbed import services
from testbed.gitrepo import make_repo

pytestmark = pytest.mark.integration


def _setup(tmp_path: Path, redis_url: str, **env_extra: str):  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "shop")
    ledger = tmp_path / "ledger.txt"
    env = services.base_env(tmp_path, redis_url, LEDGER_PATH=str(ledger), **env_extra)
    store = SqliteStore(Path(env["SQLITE_PATH"]))
    settings = load_settings(allow_local_repos=True, sqlite_path=Path(env["SQLITE_PATH"]))
    return repo, ledger, env, store, settings


def _starts(ledger: Path, job_id: str) -> dict[int, int]:
    rows = [r for r in services.read_ledger(ledger) if r[2] == job_id and r[1] == "start"]
    return dict(collections.Counter(r[3] for r in rows))


@pytest.mark.parametrize("step", [2, 4])
def test_canceling_a_running_step_stops_it_and_no_later_step_runs(
    tmp_path: Path, redis_url: str, step: int
) -> None:
    repo, ledger, env, store, settings = _setup(
        tmp_path, redis_url, **{f"STEP_DELAY_{step}_S": "30"}
    )
    w = services.worker(tmp_path, env)
    b = services.bridge(tmp_path, env)
    try:
        job, _ = submit_job(store, settings, str(repo), redis_url=redis_url)
        services.wait_for(lambda: _starts(ledger, job.id).get(step) == 1, 60, "the step")
        asked = time.monotonic()
        store.request_cancel(job.id, now_ms())
        import redis

        announce(redis.Redis.from_url(redis_url), "cancel")
        services.wait_for(lambda: store.get_job(job.id).status == "canceled", 10, "cancel")
        took = time.monotonic() - asked
        assert took < 5
        time.sleep(2)  # a later step, if any were to run, would show in the ledger now
        assert max(_starts(ledger, job.id)) == step
        assert store.get_job(job.id).status == "canceled"
        assert not any((tmp_path / "work" / "jobs").glob("*/checkout"))
    finally:
        b.stop()
        w.stop()


def test_canceling_a_queued_job_revokes_its_chain(tmp_path: Path, redis_url: str) -> None:
    repo, ledger, env, store, settings = _setup(tmp_path, redis_url)
    b = services.bridge(tmp_path, env)  # no worker yet: the chain waits in the queue
    w = None
    try:
        job, _ = submit_job(store, settings, str(repo), redis_url=redis_url)
        services.wait_for(lambda: store.get_job(job.id).status == "claimed", 10, "the claim")
        store.request_cancel(job.id, now_ms())
        services.wait_for(lambda: store.get_job(job.id).status == "canceled", 10, "cancel")
        w = services.worker(tmp_path, env)
        time.sleep(4)
        assert _starts(ledger, job.id) == {}
        assert store.get_steps(job.id) == []
    finally:
        b.stop()
        if w is not None:
            w.stop()


def test_a_stopping_bridge_hands_queued_jobs_back_and_lets_running_ones_finish(
    tmp_path: Path, redis_url: str
) -> None:
    repo, ledger, env, store, settings = _setup(
        tmp_path, redis_url, STEP_DELAY_2_S="3", MAX_CONCURRENT_JOBS="2", QUEUE_HIGH_WATER="5"
    )
    w = services.worker(tmp_path, env, concurrency=1)
    b = services.bridge(tmp_path, env)
    try:
        running, _ = submit_job(store, settings, str(repo), redis_url=redis_url)
        services.wait_for(lambda: _starts(ledger, running.id).get(2) == 1, 30, "job 1 step 2")
        queued, _ = submit_job(store, settings, str(repo), redis_url=redis_url)
        services.wait_for(lambda: store.get_job(queued.id).status == "claimed", 10, "claim 2")
        b.signal(signal.SIGTERM, group=False)
        assert b.proc is not None
        b.proc.wait(20)
        assert store.get_job(queued.id).status == "pending"
        services.wait_for(
            lambda: store.get_job(running.id).status == "completed",
            30,
            "the running job to finish without its bridge",
        )
        assert _starts(ledger, running.id) == {s: 1 for s in range(1, 7)}
        b2 = services.bridge(tmp_path, env, name="bridge-2")
        try:
            services.wait_for(
                lambda: store.get_job(queued.id).status == "completed",
                30,
                "the handed-back job to complete",
            )
            assert _starts(ledger, queued.id) == {s: 1 for s in range(1, 7)}
        finally:
            b2.stop()
    finally:
        b.stop()
        w.stop()
