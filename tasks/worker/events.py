"""Celery's event dispatcher with every publish bounded, so a worker stops when Redis is gone.

Celery sends the worker's heartbeat events with ``retry=True`` and no retry policy, and
kombu then reconnects without limit. When Redis disappears while a worker stops, the
pool's timer thread keeps retrying a heartbeat while holding the dispatcher's lock, and
the main thread waits on that lock to send worker-offline: the worker hangs until it is
SIGKILLed. Given a policy here, a retried event makes a few prompt attempts and is
dropped; losing a heartbeat or two costs nothing (a monitor marks the worker offline).
"""

from __future__ import annotations

from typing import Any

from celery.app.events import Events
from celery.events.dispatcher import EventDispatcher

# One reconnect after half a second: each attempt is itself bounded by the broker's
# connect timeout (broker_connection_timeout), so a publish ends within seconds.
EVENT_RETRY_POLICY: dict[str, float] = {
    "max_retries": 1,
    "interval_start": 0.5,
    "interval_step": 0.5,
    "interval_max": 0.5,
}


class BoundedEventDispatcher(EventDispatcher):
    def send(self, type: str, *args: Any, **fields: Any) -> None:
        # Celery's callers pass retry and retry_policy by keyword.
        if fields.get("retry") and fields.get("retry_policy") is None:
            fields["retry_policy"] = EVENT_RETRY_POLICY
        super().send(type, *args, **fields)


class BoundedEvents(Events):
    dispatcher_cls = "tasks.worker.events:BoundedEventDispatcher"


EVENTS_CLS = "tasks.worker.events:BoundedEvents"
