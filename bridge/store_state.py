"""Whether the job store answers, as the bridge's loop sees it: the poll backs off while
it does not, and one line is logged per change, never one per poll."""

from __future__ import annotations

import logging

from fondation.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)


class StoreState:
    """Logs one line per change between reachable and unreachable, never one per poll."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.down_since: float | None = None
        self.failures = 0

    def ok(self) -> None:
        if self.down_since is not None:
            log.warning(
                "job store reachable again after %.1f s", self.clock.monotonic() - self.down_since
            )
        self.down_since = None
        self.failures = 0

    def failed(self, exc: Exception) -> None:
        self.failures += 1
        if self.down_since is None:
            self.down_since = self.clock.monotonic()
            log.error("job store unavailable, backing off: %s", exc)

    def backoff_s(self, poll_interval_s: float) -> float:
        if not self.failures:
            return poll_interval_s
        return float(min(poll_interval_s * 2 ** min(self.failures - 1, 6), 60.0))
