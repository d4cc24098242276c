"""Riding out a short store outage inside a step instead of failing the attempt.

Safe because every call retried here is a read or a fenced, idempotent write (a SQLite
transaction that failed was rolled back; a Convex write that timed out and committed
is harmless to repeat under the same lease token)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from fondation.clock import SYSTEM_CLOCK, Clock
from fondation.errors import StoreUnavailable

log = logging.getLogger(__name__)
_T = TypeVar("_T")


def retry_store(
    call: Callable[[], _T], *, grace_s: float, what: str, clock: Clock = SYSTEM_CLOCK
) -> _T:
    """Run ``call``; on ``StoreUnavailable`` retry with backoff for up to ``grace_s``."""
    deadline = clock.monotonic() + grace_s
    delay_s = 0.2
    warned = False
    while True:
        try:
            result = call()
        except StoreUnavailable as exc:
            if clock.monotonic() + delay_s > deadline:
                raise
            if not warned:
                log.warning(
                    "store unavailable during %s, retrying for up to %.0f s: %s", what, grace_s, exc
                )
                warned = True
            clock.sleep(delay_s)
            delay_s = min(delay_s * 2, 5.0)
            continue
        if warned:
            log.warning("store reachable again, %s done", what)
        return result
