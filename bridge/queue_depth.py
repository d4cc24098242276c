"""What the bridge needs to know about the Celery queue in Redis: its depth, which jobs
have a step message waiting in it, and so whose work is alive. The reads are bounded
because admission keeps the queue short (at most QUEUE_HIGH_WATER plus one message per
held job)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import redis

from fondation import keys
from tasks.chain import chain_prefix

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


def work_alive(client: redis.Redis, queue: str, jobs: Sequence[tuple[str, str]]) -> list[bool]:
    """For each (job id, lease token): is a step of that attempt running (its beat is in
    Redis) or waiting in ``queue``? Raises ``redis.RedisError`` when Redis cannot say."""
    if not jobs:
        return []
    # Task ids are "<chain prefix>-<step>" (tasks.chain): strip the step.
    queued = {tid.rsplit("-", 1)[0] for tid in queued_task_ids(client, queue)}
    pipe = client.pipeline()
    for job_id, _ in jobs:
        pipe.exists(keys.step_beat(job_id))
    beats = pipe.execute()
    return [
        bool(beat) or chain_prefix(job_id, token) in queued
        for (job_id, token), beat in zip(jobs, beats, strict=True)
    ]
