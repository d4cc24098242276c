"""What the bridge needs to know about the Celery queue in Redis: its depth, and which
jobs have a step message waiting in it. Both reads are bounded because admission keeps
the queue short (at most QUEUE_HIGH_WATER plus one message per held job)."""

from __future__ import annotations

import json
import logging

import redis

log = logging.getLogger(__name__)

# kombu's Redis transport puts priority messages in sibling lists named with this
# separator; we send without priority, so only the base list is used.
_SCAN_LIMIT = 10_000


def queue_depth(client: redis.Redis, queue: str) -> int:
    return int(client.llen(queue))


def queued_task_ids(client: redis.Redis, queue: str) -> set[str]:
    """Task ids of the messages waiting in ``queue`` (not those already reserved)."""
    ids: set[str] = set()
    for raw in client.lrange(queue, 0, _SCAN_LIMIT - 1):
        try:
            message = json.loads(raw)
            ids.add(str(message["headers"]["id"]))
        except (ValueError, KeyError, TypeError):
            log.debug("unreadable message in queue %s", queue)
    return ids
