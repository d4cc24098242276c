"""A Celery worker that stops on an "Unrecoverable error" replaces itself and its jobs
complete; a shutdown that was asked for stays a shutdown."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import redis

from cli.submit import submit_job
from fondation.settings import load_settings
from store.sqlite import SqliteStore
from tasks.worker.crash_restart import MAX_DELAY_S, crashes_so_far, restart_delay_s
from testbed import services
from testbed.gitrepo import make_repo

pytestmark = pytest.mark.integration

CRASH_DOUBLE = Path(__file__).resolve().parents[1] / "support" / "celery_crash"


def _started(ledger: Path, job_id: str, step: int) -> bool:
    return any(
        r[2] == job_id and r[1] == "start" and r[3] == step for r in services.read_ledger(ledger)
    )


def _drop_connections(redis_url: str) -> None:
    """Close every connection to the test's database, as a Redis restart would."""
    client = redis.Redis.from_url(redis_url)
    db = int(redis_url.rsplit("/", 1)[1])
    me = client.client_id()
    for c in client.client_list():
        if int(c["db"]) == db and int(c["id"]) != me:
            client.client_kill_filter(_id=c["id"])
    client.close()


def test_restart_delay_grows_with_quick_crashes_and_is_capped() -> None:
    assert [restart_delay_s(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert restart_delay_s(50) == MAX_DELAY_S


def test_a_worker_that_ran_a_while_starts_its_back_off_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FONDATION_WORKER_CRASHES", "5")
    assert crashes_so_far(ran_s=3600) == 1
    assert crashes_so_far(ran_s=2) == 6


def test_a_worker_stopped_by_an_unrecoverable_error_restarts_and_its_job_completes(
    tmp_path: Path, redis_url: str
) -> None:
    repo = make_repo(tmp_path / "shop")
    ledger = tmp_path / "ledger.txt"
    marker = tmp_path / "crashed"
    env = services.base_env(
        tmp_path, redis_url, LEDGER_PATH=str(ledger), STEP_DELAY_2_S="3",
        CRASH_ON_RECONNECT_MARKER=str(marker),
    )  # fmt: skip
    env["PYTHONPATH"] = f"{CRASH_DOUBLE}{os.pathsep}{env['PYTHONPATH']}"
    # The double's sitecustomize imports Celery before `fondation worker` runs, too early
    # for the CLI to set the remap: set it as the worker image does.
    env["REMAP_SIGTERM"] = "SIGQUIT"
    store = SqliteStore(Path(env["SQLITE_PATH"]))
    settings = load_settings(allow_local_repos=True, sqlite_path=Path(env["SQLITE_PATH"]))
    w = services.worker(tmp_path, env)
    b = services.bridge(tmp_path, env)
    try:
        job, _ = submit_job(store, settings, str(repo), redis_url=redis_url)
        services.wait_for(lambda: _started(ledger, job.id, 2), 60, "step 2 to start")
        _drop_connections(redis_url)
        services.wait_for(lambda: store.get_job(job.id).is_final, 90, "the job to end")
        assert store.get_job(job.id).status == "completed"
        assert marker.read_text() == str(w.pid), "the double did not crash the worker"
        log = w.log()
        assert "Unrecoverable error" in log
        assert "restarting it in 1 s" in log
        assert w.alive(), "the worker process should be running again under the same pid"
        finished = [
            step for _, event, jid, step in services.read_ledger(ledger)
            if jid == job.id and event == "finish"
        ]  # fmt: skip
        assert sorted(finished) == sorted(set(finished)), "a finished step ran again"
        w.signal(signal.SIGTERM, group=False)
        assert w.proc is not None
        assert w.proc.wait(30) is not None
        assert "restarting it" not in w.log()[len(log) :]
    finally:
        b.kill()
        w.kill()
        store.close()
