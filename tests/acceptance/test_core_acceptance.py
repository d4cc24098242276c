"""Acceptance of the core pipeline: real bridges and workers as processes, killed with
real signals, checked by a ledger the test engine writes at every step start and finish."""

from __future__ import annotations

import collections
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.submit import submit_job
from fondation.settings import load_settings
from store.records import JobSpec, RepositorySpec
from store.sqlite import SqliteStore
from testbed import services
from testbed.gitrepo import make_repo

pytestmark = pytest.mark.acceptance


def _finished_once(ledger: Path, job_id: str) -> dict[int, int]:
    rows = [r for r in services.read_ledger(ledger) if r[2] == job_id and r[1] == "finish"]
    return dict(collections.Counter(r[3] for r in rows))


def _starts(ledger: Path, job_id: str) -> dict[int, int]:
    rows = [r for r in services.read_ledger(ledger) if r[2] == job_id and r[1] == "start"]
    return dict(collections.Counter(r[3] for r in rows))


def test_a_worker_killed_during_step_3_loses_nothing_and_repeats_no_finished_step(
    tmp_path: Path, redis_url: str
) -> None:
    repo = make_repo(tmp_path / "shop")
    ledger = tmp_path / "ledger.txt"
    env = services.base_env(tmp_path, redis_url, LEDGER_PATH=str(ledger), STEP_DELAY_3_S="30")
    store = SqliteStore(Path(env["SQLITE_PATH"]))
    settings = load_settings(allow_local_repos=True, sqlite_path=Path(env["SQLITE_PATH"]))
    first = services.worker(tmp_path, env, name="w1")
    b = services.bridge(tmp_path, env)
    second = None
    try:
        job, _ = submit_job(store, settings, str(repo), redis_url=redis_url)
        services.wait_for(lambda: _starts(ledger, job.id).get(3) == 1, 60, "step 3 to start")
        first.kill()
        killed_at = time.monotonic()
        second = services.worker(tmp_path, {**env, "STEP_DELAY_3_S": "0"}, name="w2")
        services.wait_for(lambda: store.get_job(job.id).is_final, 90, "the job to end")
        recovery_s = time.monotonic() - killed_at
        final = store.get_job(job.id)
        assert final.status == "completed", (final, b.log()[-2000:])
        assert _starts(ledger, job.id) == {1: 1, 2: 1, 3: 2, 4: 1, 5: 1, 6: 1}
        assert _finished_once(ledger, job.id) == {s: 1 for s in range(1, 7)}
        runs = {s.step: s.runs for s in store.get_steps(job.id)}
        assert runs[1] == runs[2] == 1
        assert runs[3] == 2
        assert final.attempts == 1  # the lost work counted as one failed attempt
        assert recovery_s < float(env["LEASE_TIME"]) / 1000
    finally:
        b.stop()
        first.kill()
        if second is not None:
            second.stop()


def test_two_bridges_claim_each_of_ten_jobs_exactly_once(tmp_path: Path, redis_url: str) -> None:
    repo = make_repo(tmp_path / "shop")
    ledger = tmp_path / "ledger.txt"
    env = services.base_env(
        tmp_path,
        redis_url,
        LEDGER_PATH=str(ledger),
        MAX_CONCURRENT_JOBS="10",
        QUEUE_HIGH_WATER="10",
    )
    store = SqliteStore(Path(env["SQLITE_PATH"]))
    settings = load_settings(allow_local_repos=True, sqlite_path=Path(env["SQLITE_PATH"]))
    w = services.worker(tmp_path, env, concurrency=4)
    bridges = [services.bridge(tmp_path, env, name=f"bridge-{i}") for i in range(2)]
    try:
        jobs = [submit_job(store, settings, str(repo), redis_url=redis_url)[0] for _ in range(10)]
        services.wait_for(
            lambda: all(store.get_job(j.id).is_final for j in jobs), 120, "all ten jobs to end"
        )
        for j in jobs:
            assert store.get_job(j.id).status == "completed"
            claims = [e.msg for e in store.get_logs(j.id) if e.msg.startswith("Claimed by")]
            assert len(claims) == 1, claims
            assert _starts(ledger, j.id) == {s: 1 for s in range(1, 7)}
        owners = {e.msg for j in jobs for e in store.get_logs(j.id) if e.msg.startswith("Claimed")}
        assert owners  # which bridge got which job is up to the race
    finally:
        for b in bridges:
            b.stop()
        w.stop()


HOSTILE = [
    "--upload-pack=touch /tmp/pwned",
    "-u",
    "ext::sh -c touch% /tmp/pwned",
    "file:///etc",
    "/etc",
    "ssh://-oProxyCommand=touch%20/tmp/pwned/x",
    "https://evil.example.com/o/r.git",
    "https://user:s3cr3t-t0ken@github.com/o/r.git\nx",
]


def test_hostile_repository_urls_fail_permanently_and_clone_nothing(
    tmp_path: Path, redis_url: str
) -> None:
    # The web app can store anything: insert the rows directly, as it would.
    env = services.base_env(tmp_path, redis_url, ALLOW_LOCAL_REPOS="false")
    store = SqliteStore(Path(env["SQLITE_PATH"]))
    ids = []
    for i, url in enumerate(HOSTILE):
        repo = store.upsert_repository(
            RepositorySpec(user_id="u", name=f"r{i}", full_name=f"o/r{i}", clone_url=url), 1
        )
        ids.append(store.create_job(JobSpec(user_id="u", repository_id=repo.id), 1)[0].id)
    w = services.worker(tmp_path, env)
    b = services.bridge(tmp_path, {**env, "MAX_CONCURRENT_JOBS": "10", "QUEUE_HIGH_WATER": "10"})
    try:
        services.wait_for(
            lambda: all(store.get_job(i).is_final for i in ids), 60, "every hostile job to end"
        )
        for job_id in ids:
            job = store.get_job(job_id)
            assert job.status == "failed", job
            assert job.attempts == 1
            assert job.error is not None
            assert "refused" in job.error
            assert "s3cr3t" not in job.error
        assert not Path("/tmp/pwned").exists()
        jobs_dir = tmp_path / "work" / "jobs"
        assert not any(jobs_dir.rglob("checkout")) if jobs_dir.exists() else True
        assert "s3cr3t" not in w.log() + b.log()
    finally:
        b.stop()
        w.stop()


def test_the_cli_refuses_a_hostile_url_with_a_clear_error(tmp_path: Path) -> None:
    env = services.base_env(tmp_path, "redis://127.0.0.1:1/0")
    out = subprocess.run(
        [sys.executable, "-m", "cli", "submit", "--upload-pack=x"],
        env=env,
        capture_output=True,
        text=True,
        cwd=services.REPO_ROOT,
        check=False,
    )
    assert out.returncode != 0
    out = subprocess.run(
        [sys.executable, "-m", "cli", "submit", "--", "ext::sh -c id"],
        env=env,
        capture_output=True,
        text=True,
        cwd=services.REPO_ROOT,
        check=False,
    )
    assert out.returncode == 1
    assert "refused" in out.stderr
