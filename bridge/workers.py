"""The Celery workers alive now, as their liveness keys in Redis say (each worker renews
its key every WORKER_LIVENESS_INTERVAL; a dead worker's key expires)."""

from __future__ import annotations

import redis

from fondation import keys


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def live_workers(client: redis.Redis) -> dict[str, str]:
    """Worker name -> the queues it consumes (comma-separated), from the liveness keys."""
    out: dict[str, str] = {}
    for key in client.scan_iter(keys.WORKER_ALIVE_PATTERN, count=200):
        value = client.get(key)
        name = _text(key).split(":", 2)[2]
        out[name] = _text(value) if value else ""
    return out


def consuming(workers: dict[str, str], queue: str) -> list[str]:
    """The names of the workers that consume ``queue``."""
    return sorted(w for w, q in workers.items() if queue in q.split(","))
