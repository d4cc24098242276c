"""Fixtures shared by every tier: a real Redis (embedded when none answers at REDIS_URL),
and the job stores the contract suite runs against."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from fondation.embedded_redis import EmbeddedRedis
from fondation.redis_client import redis_answers

pytest_plugins = ["testbed.convex_standin.fixture"]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server URL for the whole session. Each test gets a database of its own
    through ``redis_url``; the suite refuses to use a database that is not empty."""
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    if redis_answers(url):
        yield url.rsplit("/", 1)[0]
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False)
    server.start()
    try:
        yield server.url.rsplit("/", 1)[0]
    finally:
        server.stop()


def _claim_database(server: str) -> tuple[redis.Redis, int, str]:
    """Reserve a database 1-15 for one test, through a key with a TTL in database 0,
    so that test sessions running at once on one Redis never share a database."""
    registry = redis.Redis.from_url(f"{server}/0")
    token = uuid.uuid4().hex
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for db in range(1, 16):
            if registry.set(f"fondation-tests:db:{db}", token, nx=True, ex=900):
                return registry, db, token
        time.sleep(0.2)
    raise RuntimeError("no free Redis database 1-15 for this test")


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A private, empty Redis database, flushed after the test."""
    registry, db, token = _claim_database(redis_server)
    url = f"{redis_server}/{db}"
    client = redis.Redis.from_url(url)
    # The database is ours now; whatever a crashed earlier session left is garbage.
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
    if registry.get(f"fondation-tests:db:{db}") == token.encode():
        registry.delete(f"fondation-tests:db:{db}")
    registry.close()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "fondation.db"
