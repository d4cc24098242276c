"""Celery's prefork pool, stopped at once when it is idle.

A warm stop of the prefork pool closes it and joins its processes, and billiard has each
process sleep a second before it exits (so that its parent reads its last message, on a
warm stop and on a terminate alike), then Celery's timer thread takes up to half a second
more to notice the join: about 1.5 s for a worker with nothing to do, paid by every
`fondation analyze` and every stop of an idle container. With no task outstanding there
is nothing to wait for and nothing to lose: the idle processes are killed and the pool
terminated. A pool with outstanding work stops as Celery stops it.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from billiard.pool import CLOSE, RUN
from celery.concurrency import prefork
from kombu.asynchronous import get_event_loop

POOL_CLS = "tasks.worker.pool:TaskPool"


class TaskPool(prefork.TaskPool):
    def on_stop(self) -> None:
        pool: Any = self._pool  # type: ignore[attr-defined]  # set by on_start, unstubbed
        if pool is not None and pool._state in (RUN, CLOSE) and not pool._cache:
            hub = get_event_loop()
            if hub is not None:
                # Acknowledgements queued by the last results, sent before the pool goes.
                prefork._run_ready_callbacks(hub)  # type: ignore[attr-defined]
            idle = [process for process in pool._pool if process.exitcode is None]
            for process in idle:
                os.kill(process.pid, signal.SIGKILL)
            # Reaped here, a dead process is skipped by the terminate (which would
            # otherwise wait half a second for its queue).
            for process in idle:
                process.join(5)
            self.on_terminate()
            return
        super().on_stop()
