"""A bridge and a worker started with the Node worker's README values (milliseconds) run a
job: an operator's existing .env works unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.submit import submit_job
from fondation.settings import load_settings
from store.sqlite import SqliteStore
from testbed import services
from testbed.gitrepo import make_repo

pytestmark = pytest.mark.acceptance

# As the Node worker's README documents them.
NODE_WORKER_ENV = {
    "POLL_INTERVAL": "5000",
    "LEASE_TIME": "300000",
    "HEARTBEAT_INTERVAL": "60000",
    "MAX_CONCURRENT_JOBS": "1",
}


def test_a_bridge_and_a_worker_on_the_node_workers_env_run_a_job(
    tmp_path: Path, redis_url: str
) -> None:
    env = services.base_env(tmp_path, redis_url, **NODE_WORKER_ENV)
    env["TEMP_DIR"] = str(tmp_path / "node-temp")
    store = SqliteStore(Path(env["SQLITE_PATH"]))
    settings = load_settings(allow_local_repos=True, sqlite_path=Path(env["SQLITE_PATH"]))
    worker = services.worker(tmp_path, env, name="node-env-worker")
    bridge = services.bridge(tmp_path, env, name="node-env-bridge")
    try:
        job, _ = submit_job(store, settings, str(make_repo(tmp_path / "shop")), redis_url=redis_url)
        # The wake-up on submit claims it at once; a 5000 ms poll read as seconds would
        # wait 83 minutes, and a 300000 ms lease read as seconds would be refused at start.
        services.wait_for(lambda: store.get_job(job.id).is_final, 60, "the job to end")
        final = store.get_job(job.id)
        assert final.status == "completed", bridge.log()[-2000:]
        assert (tmp_path / "node-temp").is_dir()
    finally:
        bridge.stop()
        worker.stop()
