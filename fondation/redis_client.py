"""The one way our code opens a Redis client: ``connect_redis(REDIS_URL, ...)``.

It understands every form of fondation/redis_url.py. For a Sentinel deployment the client
asks the Sentinels for the master before each new connection, so after a failover its
next command (once the Sentinels have promoted a replica) reaches the new master; until
then commands raise ``redis.ConnectionError`` (``MasterNotFoundError`` among them), which
every caller already treats as a passing Redis outage.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.sentinel import Sentinel

from fondation.redis_url import RedisAddress, parse_redis_url


class SentinelMasterClient(redis.Redis):
    """The master of a Sentinel deployment. ``close()`` also closes the connections to
    the Sentinels, which redis-py leaves open otherwise."""

    # Not ``sentinel``: that is the client's SENTINEL command.
    sentinel_manager: Any = None

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self.sentinel_manager is not None:
                self.sentinel_manager.close()


def connect_redis(
    url: str | RedisAddress,
    *,
    socket_timeout_s: float | None,
    socket_connect_timeout_s: float | None,
) -> redis.Redis:
    """A client of the Redis at ``url`` (REDIS_URL or its parsed address). Opens no
    connection yet: the first command does. Raises ``ConfigError`` for a malformed URL."""
    address = parse_redis_url(url) if isinstance(url, str) else url
    timeouts = {
        "socket_timeout": socket_timeout_s,
        "socket_connect_timeout": socket_connect_timeout_s,
    }
    tls = address.tls.redis_kwargs() if address.tls else {}
    server: dict[str, Any] = {
        "db": address.db,
        "username": address.username,
        "password": address.password,
        **timeouts,
        **tls,
    }
    if address.master_name is None:
        host, port = address.nodes[0]
        return redis.Redis(host=host, port=port, **server)
    # redis-py leaves Sentinel untyped; the client it returns is typed below.
    open_sentinel: Any = Sentinel
    sentinel = open_sentinel(
        list(address.nodes),
        sentinel_kwargs={
            "username": address.sentinel_username,
            "password": address.sentinel_password,
            **timeouts,
            **tls,
        },
        **server,
    )
    client: SentinelMasterClient = sentinel.master_for(
        address.master_name, redis_class=SentinelMasterClient
    )
    client.sentinel_manager = sentinel
    return client


def redis_answers(url: str | RedisAddress, timeout_s: float = 0.5) -> bool:
    """Does the Redis at ``url`` answer PING within ``timeout_s``?"""
    try:
        client = connect_redis(url, socket_timeout_s=timeout_s, socket_connect_timeout_s=timeout_s)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False
