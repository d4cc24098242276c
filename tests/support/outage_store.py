"""The real SQLite store with faults a test switches on: an outage (every store call
refused with ``StoreUnavailable``, for good or for the next few calls), and a moment to
let another party act just before a lease renewal (the race that a renewal's answer,
not the bridge's earlier read, settles)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fondation.errors import StoreUnavailable
from store.base import JobStore
from store.records import LeaseState
from store.sqlite import SqliteStore

# Every call of the interface, as a client, a bridge or a step makes it.
_CALLS = frozenset(
    name
    for name, value in vars(JobStore).items()
    if callable(value) and not name.startswith("_") and name != "close"
)


class OutageStore(SqliteStore):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.down = False
        self.failures_left = 0  # refuse this many calls, then answer again
        self.refused: list[str] = []
        self.before_renew: Callable[[], object] | None = None

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name in _CALLS and self._refusing():
            return lambda *args, **kwargs: self._refuse(name)
        return value

    def _refusing(self) -> bool:
        return bool(self.down or self.failures_left > 0)

    def _refuse(self, name: str) -> None:
        self.refused.append(name)
        if self.failures_left > 0:
            self.failures_left -= 1
        raise StoreUnavailable(f"the store is down ({name})")

    def renew(self, job_id: str, token: str, lease_ms: int, now_ms: int) -> LeaseState:
        if self.before_renew is not None:
            act, self.before_renew = self.before_renew, None
            act()
        return super().renew(job_id, token, lease_ms, now_ms)
