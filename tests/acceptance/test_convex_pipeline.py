"""The whole pipeline on the Convex stand-in: the bridge and the workers speak Convex's
HTTP API to the project's own functions running in convex-test."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from store.records import JobSpec, RepositorySpec
from testbed import services
from testbed.convex_standin.fixture import StandIn, make_convex_store
from testbed.gitrepo import make_repo

pytestmark = pytest.mark.acceptance


def _env(tmp_path: Path, redis_url: str, standin: StandIn, **extra: str) -> dict[str, str]:
    settings = {
        "JOB_STORE": "convex", "CONVEX_URL": standin.url,
        "CONVEX_WORKER_SECRET": standin.secret, "CONVEX_TIMEOUT": "5",
        "POLL_INTERVAL": "5000",
    }  # fmt: skip
    return services.base_env(tmp_path, redis_url, **{**settings, **extra})


def _insert(standin: StandIn, repo: Path) -> str:
    store = make_convex_store(standin.url, standin.secret)
    r = store.upsert_repository(
        RepositorySpec(user_id="web-user", name="shop", full_name="local/shop",
                       default_branch="main", clone_url=str(repo)),
        int(time.time() * 1000),
    )  # fmt: skip
    job, _ = store.create_job(
        JobSpec(user_id="web-user", repository_id=r.id), int(time.time() * 1000)
    )
    return job.id


def test_a_job_inserted_in_convex_runs_all_steps_and_writes_its_docs(
    tmp_path: Path, redis_url: str, convex_standin: StandIn
) -> None:
    convex_standin.reset()
    repo = make_repo(tmp_path / "shop")
    env = _env(tmp_path, redis_url, convex_standin, LEDGER_PATH=str(tmp_path / "ledger.txt"))
    w = services.worker(tmp_path, env)
    b = services.bridge(tmp_path, env)
    store = make_convex_store(convex_standin.url, convex_standin.secret)
    try:
        # Inserted as the web app would: nothing is announced in Redis. The bridge's
        # Convex subscription tells it, long before its safety-net poll.
        job_id = _insert(convex_standin, repo)
        services.wait_for(lambda: store.get_job(job_id).is_final, 90, "the job to end")
        job = store.get_job(job_id)
        assert job.status == "completed", (job, b.log()[-2000:], w.log()[-2000:])
        assert [(s.step, s.status, s.runs) for s in store.get_steps(job_id)] == [
            (i, "completed", 1) for i in range(8)
        ]
        docs = store.get_docs(job_id)
        assert {d.kind for d in docs} == {"toc", "chapter", "tutorial", "yaml"}
        assert job.docs_count == len(docs)
        assert convex_standin.secret not in w.log() + b.log()
    finally:
        b.stop()
        w.stop()


def test_the_bridge_rides_out_a_convex_outage_and_recovers(
    tmp_path: Path, redis_url: str, convex_standin: StandIn
) -> None:
    convex_standin.reset()
    repo = make_repo(tmp_path / "shop")
    # Polling every 0.5 s, without the subscription: the outage is seen by the polls
    # (tests/acceptance/test_convex_subscription_faults.py covers the subscribed bridge).
    env = _env(tmp_path, redis_url, convex_standin, POLL_INTERVAL="500", CONVEX_SUBSCRIBE="false")
    w = services.worker(tmp_path, env)
    b = services.bridge(tmp_path, env)
    store = make_convex_store(convex_standin.url, convex_standin.secret)
    try:
        time.sleep(2)
        convex_standin.control("503")
        time.sleep(5)
        assert b.alive()
        convex_standin.control("ok")
        job_id = _insert(convex_standin, repo)
        services.wait_for(lambda: store.get_job(job_id).is_final, 60, "the job to end")
        assert store.get_job(job_id).status == "completed"
        log = b.log()
        # One line when the store went away and one when it came back, not one per poll.
        assert log.count("job store unavailable") == 1, log[-3000:]
        assert log.count("job store reachable again") == 1
    finally:
        b.stop()
        w.stop()
