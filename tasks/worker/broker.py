"""kombu's Redis transport, reusing one client per channel instead of building one per call.

kombu's Redis channel builds a new ``redis.Redis`` for every publish, acknowledgement and
queue-length read (``Channel.conn_or_acquire``). Building one copies redis-py's table of
about 165 response callbacks into a case-insensitive dict, some 40 us each time
(redis-py issue 3624): over a job's eight tasks that was about 4 ms of CPU, a tenth of
what the whole job costs across worker, pool and bridge. A ``redis.Redis`` holds no
connection of its own (each command borrows one from the pool, which is thread-safe), so
one per channel serves every caller; it is rebuilt when kombu replaces the pool, as it
does after a fork.

Only plain ``redis://`` URLs use it: ``rediss://``, ``sentinel://`` and ``redis+socket://``
carry scheme-specific handling in kombu's Connection, so they keep kombu's transport.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from kombu.transport import redis as kombu_redis

TRANSPORT = "tasks.worker.broker:Transport"


class Channel(kombu_redis.Channel):
    _shared_client: Any = None

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        shared = self._shared_client
        if shared is None or shared.connection_pool is not self.pool:
            # kombu's own builder: it passes the pool's credential provider along.
            shared = self._shared_client = self._create_client()  # type: ignore[attr-defined]
        yield shared


class Transport(kombu_redis.Transport):
    Channel = Channel


def transport_for(broker_url: str) -> str | None:
    """The ``broker_transport`` setting for ``broker_url``: ours for a plain Redis URL,
    None (kombu picks by scheme) for anything else."""
    return TRANSPORT if urlsplit(broker_url).scheme == "redis" else None
