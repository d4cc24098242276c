"""Wake-ups: a Redis pub/sub channel on which clients announce new work or a cancel, and
workers announce a job that left its chain (completed, failed, canceled), so a bridge
reacts at once instead of at its next poll: it claims new work, or frees the capacity a
finished job held for jobs waiting behind MAX_CONCURRENT_JOBS."""

from __future__ import annotations

import logging
import threading
from typing import Any

import redis

from fondation import keys
from fondation.redis_client import connect_redis

log = logging.getLogger(__name__)


def announce(client: redis.Redis, reason: str = "job") -> None:
    """Tell every bridge to look at the store now. Best effort: polling still covers it.
    ``client`` may be a pipeline: the wake-up then goes with its other commands."""
    try:
        client.publish(keys.WAKE_CHANNEL, reason)
    except redis.RedisError as exc:
        log.debug("wake-up not sent: %s", exc)


class WakeListener:
    """Sets ``event`` whenever a wake-up arrives; reconnects after a Redis outage."""

    def __init__(self, redis_url: str, event: threading.Event) -> None:
        self._redis_url = redis_url
        self.event = event
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wake-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                client = connect_redis(
                    self._redis_url, socket_timeout_s=None, socket_connect_timeout_s=5
                )
                # redis-py types pubsub() only from 8.2 on; called through Any, the line
                # checks the same whichever release is installed.
                open_pubsub: Any = client.pubsub
                pubsub = open_pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(keys.WAKE_CHANNEL)
                while not self._stop.is_set():
                    if pubsub.get_message(timeout=1.0) is not None:
                        self.event.set()
                pubsub.close()
                client.close()
            except (redis.RedisError, OSError) as exc:
                log.debug("wake listener lost Redis: %s", exc)
                self._stop.wait(1.0)
