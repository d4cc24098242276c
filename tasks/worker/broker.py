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

``broker_settings`` turns REDIS_URL (fondation/redis_url.py) into Celery's broker
settings: the URL kombu expects, without the options it cannot read from a URL
(``master_name``, the Sentinels' password), which go to the transport options, and the
TLS options, which go to ``broker_use_ssl`` with the certificate verified by default.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlsplit

from kombu.transport import redis as kombu_redis

from fondation.redis_url import RedisAddress, TlsOptions, netloc, parse_redis_url

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


_CERT_REQS = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}


def broker_settings(redis_url: str) -> dict[str, Any]:
    """Celery's ``broker_url``, ``broker_transport`` and ``broker_use_ssl`` for
    ``redis_url``, and ``transport_options``: what to add to ``broker_transport_options``
    (the Sentinel master's name and how to reach the Sentinels)."""
    address = parse_redis_url(redis_url)
    url = kombu_url(address)
    options: dict[str, Any] = {}
    if address.master_name is not None:
        options["master_name"] = address.master_name
        sentinel_kwargs: dict[str, Any] = {
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
        }
        if address.sentinel_username:
            sentinel_kwargs["username"] = address.sentinel_username
        if address.sentinel_password:
            sentinel_kwargs["password"] = address.sentinel_password
        if address.tls:
            sentinel_kwargs.update(address.tls.redis_kwargs())
        options["sentinel_kwargs"] = sentinel_kwargs
    return {
        "broker_url": url,
        "broker_transport": transport_for(url),
        "broker_use_ssl": kombu_tls(address.tls) if address.tls else None,
        "transport_options": options,
    }


def kombu_url(address: RedisAddress) -> str:
    """The address as kombu reads it: no query; for Sentinel, each Sentinel as its own
    ``sentinel://`` entry, the master's credentials and the database on the first (kombu
    reads both from that one only)."""
    cred = ""
    if address.username or address.password:
        cred = quote(address.username or "", safe="")
        if address.password:
            cred += ":" + quote(address.password, safe="")
        cred += "@"
    if address.master_name is None:
        host, port = address.nodes[0]
        scheme = "rediss" if address.tls else "redis"
        return f"{scheme}://{cred}{netloc(host, port)}/{address.db}"
    entries = [f"sentinel://{netloc(h, p)}/{address.db}" for h, p in address.nodes]
    entries[0] = f"sentinel://{cred}{netloc(*address.nodes[0])}/{address.db}"
    return ";".join(entries)


def kombu_tls(tls: TlsOptions) -> dict[str, Any]:
    """``broker_use_ssl``: redis-py's TLS arguments, as kombu passes them to each
    connection (no ``ssl`` key: kombu picks the TLS connection class itself)."""
    kwargs = tls.redis_kwargs()
    del kwargs["ssl"]
    kwargs["ssl_cert_reqs"] = _CERT_REQS[tls.cert_reqs]
    return kwargs
