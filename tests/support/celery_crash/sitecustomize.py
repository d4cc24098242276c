"""Test double for a kombu failure that cannot be produced on demand: after the worker
loses its Redis connection, Celery's reconnect path closes the broken connection, and
kombu, restoring unacked messages through a connection pool that is already gone, raises
``AttributeError: 'NoneType' object has no attribute 'hostname'`` (seen here with a Redis
restart landing during an ack). The error escapes
``Consumer.on_connection_error_after_connected`` and Celery stops the whole worker
("Unrecoverable error").

Python loads this file at start-up when its folder is on PYTHONPATH. In the first run of
the worker, the reconnect path raises that error and writes CRASH_ON_RECONNECT_MARKER; a
worker that was restarted after a crash (it carries FONDATION_WORKER_CRASHES) reconnects
normally.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_MARKER = os.environ.get("CRASH_ON_RECONNECT_MARKER")

if _MARKER:
    from celery.worker.consumer.consumer import Consumer

    _on_connection_error = Consumer.on_connection_error_after_connected

    def _crashing_reconnect(self: Any, exc: Exception) -> None:
        if "FONDATION_WORKER_CRASHES" not in os.environ:
            Path(str(_MARKER)).write_text(str(os.getpid()))
            raise AttributeError("'NoneType' object has no attribute 'hostname' (test double)")
        _on_connection_error(self, exc)

    Consumer.on_connection_error_after_connected = _crashing_reconnect  # type: ignore[method-assign]
