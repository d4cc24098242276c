"""Test double for a kombu failure that cannot be produced on demand: after the worker
loses its Redis connection, kombu closes the channel and restores its unacked messages
through a connection pool that is already gone, and raises
``AttributeError: 'NoneType' object has no attribute 'hostname'`` (seen here with a Redis
restart landing during an ack). The error escapes Celery's reconnect path and Celery
stops the whole worker ("Unrecoverable error").

Python loads this file at start-up when its folder is on PYTHONPATH. Every restore of
the first run of the worker fails (kombu tries twice: once while collecting the broken
connection, which Celery ignores, then while closing it, which ends the worker) and
writes CRASH_ON_RESTORE_MARKER; a worker that was restarted after a crash (it carries
FONDATION_WORKER_CRASHES) restores normally.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_MARKER = os.environ.get("CRASH_ON_RESTORE_MARKER")

if _MARKER:
    from kombu.transport.virtual.base import QoS

    _restore_unacked_once = QoS.restore_unacked_once

    def _crashing_restore(self: Any, *args: Any, **kwargs: Any) -> Any:
        if "FONDATION_WORKER_CRASHES" not in os.environ:
            Path(str(_MARKER)).write_text(str(os.getpid()))
            raise AttributeError("'NoneType' object has no attribute 'hostname' (test double)")
        return _restore_unacked_once(self, *args, **kwargs)

    QoS.restore_unacked_once = _crashing_restore  # type: ignore[method-assign]
