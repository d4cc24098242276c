"""A plain Sentinel deployment (no TLS, no passwords: the simplest self-hosted form) on
real servers: our client factory and the Celery app reach the master through the
Sentinels, and after the master is killed both reach the replica the Sentinels promote,
with what was written before the kill still there."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from fondation.redis_client import connect_redis
from fondation.settings import load_settings
from tasks.worker.app import create_app
from testbed.redis_servers import DOWN_AFTER_MS, SentinelDeployment, tls_redis_server

pytestmark = pytest.mark.integration

REDIS_SERVER = tls_redis_server()


@pytest.fixture
def sentinels(tmp_path: Path) -> Iterator[SentinelDeployment]:
    if REDIS_SERVER is None:
        pytest.skip("no Debian redis-server (.ci/run installs it)")
    deployment = SentinelDeployment(REDIS_SERVER, tmp_path / "sentinel")
    try:
        yield deployment
    finally:
        deployment.stop()


def test_the_factory_and_celery_follow_the_master_the_sentinels_promote(
    sentinels: SentinelDeployment,
) -> None:
    url = sentinels.url()
    client = connect_redis(url, socket_timeout_s=1, socket_connect_timeout_s=1)
    app = create_app(load_settings(redis_url=url), url)
    try:
        client.set("before", "kept")
        app.send_task("sentinel-test.noop", queue="sentinel-test")
        # Replication is asynchronous: wait until the replica has both writes.
        assert client.wait(1, 2000) == 1
        old = sentinels.master()
        old.kill()
        killed = time.monotonic()
        errors = 0
        while True:
            try:
                client.set("after", "written")
                break
            except redis.ConnectionError:
                errors += 1
                assert time.monotonic() - killed < 30, "no master promoted in 30 s"
                time.sleep(0.05)
        promoted_s = time.monotonic() - killed
        print(f"the factory's client wrote to the new master {promoted_s:.2f} s after the kill")
        assert sentinels.master() is not old
        assert errors > 0  # it did see the master gone
        assert promoted_s > DOWN_AFTER_MS / 1000
        assert client.get("before") == b"kept"
        app.send_task("sentinel-test.noop", queue="sentinel-test")
        assert client.llen("sentinel-test") == 2
    finally:
        client.close()
        app.close()
