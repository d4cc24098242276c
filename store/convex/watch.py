"""The answer of ``worker/queue:watch``, the query a bridge subscribes to: which jobs are
due now, when the next falls due, and which of the bridge's jobs were ended or asked to
stop under it (convex/functions/worker/queue.ts explains what it reads and why)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WATCH_QUERY = "worker/queue:watch"
# The ready jobs one answer names at most (WATCH_READY_CAP in queue.ts): a list this
# long may leave ready jobs unnamed.
WATCH_READY_CAP = 20


@dataclass(frozen=True)
class WatchUpdate:
    ready: tuple[str, ...]
    next_run_at_ms: int | None
    ended: dict[str, str]
    cancel_requested: tuple[str, ...]

    @property
    def ready_list_full(self) -> bool:
        return len(self.ready) >= WATCH_READY_CAP

    def concerns(self, held: set[str]) -> bool:
        """Whether it says something of a job in ``held``: ended or asked to stop."""
        return bool(held & (set(self.ended) | set(self.cancel_requested)))


def parse_watch(value: Any) -> WatchUpdate:
    """A WatchUpdate from the query's value as the PyPI client gives it (plain Python
    values, numbers as floats)."""
    next_run_at = value.get("nextRunAt")
    return WatchUpdate(
        ready=tuple(str(i) for i in value.get("ready", [])),
        next_run_at_ms=None if next_run_at is None else int(next_run_at),
        ended={str(e["jobId"]): str(e["status"]) for e in value.get("ended", [])},
        cancel_requested=tuple(str(i) for i in value.get("cancelRequested", [])),
    )
