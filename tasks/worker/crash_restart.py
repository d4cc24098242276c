"""Restarting the worker process after Celery gives up on an "Unrecoverable error".

Celery's worker ends itself (exit 1) when its consumer raises outside the reconnect path;
a Redis restart that lands while a message is being acked does this (kombu's channel
close calls ``restore_unacked`` on a connection that is already gone:
``AttributeError: 'NoneType' object has no attribute 'hostname'``). Docker's restart
policy would start a new container, but ``fondation up``, systemd units without
``Restart=`` and bare processes would stay down while their queue fills. So the worker
replaces itself with a fresh copy of the same command (same pid: signals, supervisors
and health checks keep pointing at it), after a back-off that grows while crashes
follow each other quickly.

A shutdown that was asked for (SIGTERM, SIGQUIT, SIGINT) is never turned into a restart.
"""

from __future__ import annotations

import logging
import os
import sys
import time

log = logging.getLogger(__name__)

CRASHES_ENV = "FONDATION_WORKER_CRASHES"
# A worker that ran this long before crashing starts its back-off again from zero.
STABLE_AFTER_S = 60.0
MAX_DELAY_S = 30.0


def shutdown_requested() -> bool:
    """True when a signal asked Celery to stop (its handlers set these flags)."""
    from celery.worker import state

    return bool(state.should_stop is not None or state.should_terminate is not None)


def restart_delay_s(crashes: int) -> float:
    """1, 2, 4, ... seconds, capped: a worker that cannot stay up must not spin."""
    return float(min(2 ** max(crashes - 1, 0), MAX_DELAY_S))


def crashes_so_far(ran_s: float) -> int:
    """Consecutive quick crashes, including this one."""
    previous = int(os.environ.get(CRASHES_ENV, "0") or 0)
    return 1 if ran_s >= STABLE_AFTER_S else previous + 1


def restart_process(exit_code: object, ran_s: float) -> None:
    """Replace this process with a new run of the same command line; does not return."""
    crashes = crashes_so_far(ran_s)
    delay = restart_delay_s(crashes)
    log.error(
        "the Celery worker stopped on an unrecoverable error (exit %s) after %.0f s;"
        " restarting it in %.0f s (crash %d in a row)",
        exit_code, ran_s, delay, crashes,
    )  # fmt: skip
    for handler in logging.getLogger().handlers:
        handler.flush()
    time.sleep(delay)
    os.environ[CRASHES_ENV] = str(crashes)
    # orig_argv keeps "-m fondation" or the console script, whichever started us.
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
