"""Fixtures shared by every tier: a real Redis (embedded when none answers at REDIS_URL),
and the job stores the contract suite runs against."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from fondation.embedded_redis import EmbeddedRedis, redis_answers


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


_db_counter = iter(range(10**9))


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A private, empty Redis database, flushed after the test."""
    db = 1 + next(_db_counter) % 15
    url = f"{redis_server}/{db}"
    client = redis.Redis.from_url(url)
    # Never run against someone's data: start from an empty database we own.
    if client.dbsize():
        client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "fondation.db"
